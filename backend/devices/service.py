"""The sticker registry: registration, keys, claiming and linking to a reminder letter."""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache

import sqlalchemy as sa
import structlog
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.core.errors import Conflict, IkkiError, InvalidInput, NotFound
from backend.core.settings import Settings, get_settings
from backend.core.time import utcnow
from backend.devices.models import Device, DeviceEvent

# mqtt_password is re-exported: callers of the registry derive a device's MQTT password here too.
from backend.devices.protocol import DEVICE_ID_PATTERN, KEY_BYTES, mqtt_password  # noqa: F401

log = structlog.get_logger(__name__)

# Letters and digits that cannot be mistaken for one another on a small label:
# no 0/O, 1/I/L, 2/Z, 5/S or 8/B.
CLAIM_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CLAIM_CODE_GROUPS = 4
CLAIM_CODE_GROUP_LENGTH = 4
CLAIM_CODE_LENGTH = CLAIM_CODE_GROUPS * CLAIM_CODE_GROUP_LENGTH
# Client ids of the backend's own MQTT clients start with this, so no device id may.
RESERVED_ID_PREFIX = "ikki-"


class StickerNotFound(NotFound):
    message = "Sticker {device_id} not found among your stickers."


class ClaimCodeNotFound(NotFound):
    message = "No sticker has the claim code {claim_code}. Check the code on the sticker's label."


class StickerAlreadyClaimed(Conflict):
    message = (
        "The sticker with the claim code {claim_code} already belongs to another account. "
        "Check the code, or contact Ikki support if this sticker is yours."
    )


class StickerAlreadyLinked(Conflict):
    message = "The sticker {device_id} is already linked to another reminder letter."


class LetterAlreadyHasSticker(Conflict):
    message = "This reminder letter already has a sticker ({device_id})."


class DeviceAlreadyRegistered(Conflict):
    message = "The device {device_id} is already registered with another key or claim code."


class ClaimCodeTaken(Conflict):
    message = "The claim code {claim_code} already belongs to another device."


class DeviceKeyUnreadable(IkkiError):
    status_code = 500
    message = (
        "The key of device {device_id} cannot be decrypted. "
        "Check that IKKI_DEVICE_KEY_ENCRYPTION_KEY is the key it was stored with."
    )


# Keys


@lru_cache(maxsize=4)
def fernet_for(encryption_key: str) -> Fernet:
    try:
        return Fernet(encryption_key)
    except ValueError as error:
        raise ValueError(
            "IKKI_DEVICE_KEY_ENCRYPTION_KEY is not a Fernet key (urlsafe base64 of 32 bytes)"
        ) from error


def encrypt_key(key: bytes, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return fernet_for(settings.device_key_encryption_key).encrypt(key).decode("ascii")


def decrypt_key(token: str, settings: Settings | None = None) -> bytes:
    """Decrypt a stored device key. Raises cryptography's InvalidToken under a wrong encryption key."""
    settings = settings or get_settings()
    return fernet_for(settings.device_key_encryption_key).decrypt(token.encode("ascii"))


def device_key(device: Device, settings: Settings | None = None) -> bytes:
    """Return the device's 32-byte key, decrypted from the database column."""
    try:
        return decrypt_key(device.key_encrypted, settings)
    except InvalidToken:
        raise DeviceKeyUnreadable(device_id=device.device_id) from None


def parse_key_hex(text: str) -> bytes:
    """Parse a device key written as 64 hexadecimal digits."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise InvalidInput(
            "Invalid device key: write it as {digits} hexadecimal digits.", digits=2 * KEY_BYTES
        )
    return key


# Claim codes


def generate_claim_code() -> str:
    characters = [secrets.choice(CLAIM_CODE_ALPHABET) for _ in range(CLAIM_CODE_LENGTH)]
    return _format_claim_code("".join(characters))


def _format_claim_code(compact: str) -> str:
    groups = [
        compact[start:start + CLAIM_CODE_GROUP_LENGTH]
        for start in range(0, CLAIM_CODE_LENGTH, CLAIM_CODE_GROUP_LENGTH)
    ]
    return "-".join(groups)


def normalize_claim_code(text: str) -> str:
    """Return the claim code as stored (``ACDE-FGHJ-KMNP-QRTU``) from what a person typed.

    Case, spaces and hyphens do not matter.
    """
    compact = "".join(text.split()).replace("-", "").upper()
    if len(compact) != CLAIM_CODE_LENGTH or any(c not in CLAIM_CODE_ALPHABET for c in compact):
        raise InvalidInput(
            "Invalid claim code {claim_code}: it has 16 letters and digits, as on the sticker's label.",
            claim_code=text.strip()[:40],
        )
    return _format_claim_code(compact)


# Registration


def _validate_device_id(device_id: str, settings: Settings) -> None:
    if not DEVICE_ID_PATTERN.match(device_id):
        raise InvalidInput(
            "Invalid device id {device_id}: use 3 to 64 letters, digits, '-' or '_'.",
            device_id=device_id[:80],
        )
    if device_id == settings.mqtt_username:
        # The device would log in to the broker as the backend.
        raise InvalidInput("Invalid device id {device_id}: it is the backend's MQTT username.",
                           device_id=device_id)
    if device_id.lower().startswith(RESERVED_ID_PREFIX):
        # Backend clients such as ingestion use these client ids; a device with one could take
        # over their broker session.
        raise InvalidInput("Invalid device id {device_id}: ids that start with {prefix} are reserved "
                           "for Ikki's own MQTT clients.", device_id=device_id, prefix=RESERVED_ID_PREFIX)


def _unused_claim_code(session: Session) -> str:
    for _ in range(10):
        code = generate_claim_code()
        if session.exec(select(Device.device_id).where(Device.claim_code == code)).first() is None:
            return code
    raise RuntimeError("no unused claim code after 10 draws; the random source is broken")


def register_device(
    session: Session,
    device_id: str | None = None,
    key: bytes | None = None,
    claim_code: str | None = None,
    is_virtual: bool = False,
    *,
    hardware_revision: str | None = None,
    firmware_version: str | None = None,
    settings: Settings | None = None,
) -> tuple[Device, bytes]:
    """Add a device to the registry and return it with its key.

    A missing id, key or claim code is generated. Raises DeviceAlreadyRegistered if the id
    exists and ClaimCodeTaken if the claim code does.
    """
    settings = settings or get_settings()
    if device_id is None:
        device_id = f"stk-{secrets.token_hex(6)}"
    _validate_device_id(device_id, settings)
    if key is None:
        key = secrets.token_bytes(KEY_BYTES)
    if len(key) != KEY_BYTES:
        raise InvalidInput("Invalid device key: it must be {size} bytes long.", size=KEY_BYTES)
    if claim_code is None:
        claim_code = _unused_claim_code(session)
    else:
        claim_code = normalize_claim_code(claim_code)

    if session.get(Device, device_id) is not None:
        raise DeviceAlreadyRegistered(device_id=device_id)
    if session.exec(select(Device.device_id).where(Device.claim_code == claim_code)).first():
        raise ClaimCodeTaken(claim_code=claim_code)

    device = Device(
        device_id=device_id,
        claim_code=claim_code,
        key_encrypted=encrypt_key(key, settings),
        is_virtual=is_virtual,
        hardware_revision=hardware_revision,
        firmware_version=firmware_version,
    )
    session.add(device)
    session.flush()
    log.info("sticker.registered", device_id=device_id, is_virtual=is_virtual,
             hardware_revision=hardware_revision, firmware_version=firmware_version)
    return device, key


def register_factory_device(
    session: Session,
    device_id: str,
    key: bytes,
    claim_code: str | None = None,
    *,
    hardware_revision: str | None = None,
    firmware_version: str | None = None,
    is_virtual: bool = False,
    settings: Settings | None = None,
) -> tuple[Device, bool]:
    """Register a device for the factory station and return it with whether it was created.

    Registering the same id with the same key again returns the stored device, so the
    station can re-run a step safely. Another key, or another claim code, for a known id
    raises DeviceAlreadyRegistered.
    """
    settings = settings or get_settings()
    existing = session.get(Device, device_id)
    if existing is None:
        device, _ = register_device(
            session, device_id, key, claim_code, is_virtual,
            hardware_revision=hardware_revision, firmware_version=firmware_version, settings=settings,
        )
        return device, True

    same_key = hmac.compare_digest(device_key(existing, settings), key)
    same_code = claim_code is None or normalize_claim_code(claim_code) == existing.claim_code
    if not (same_key and same_code):
        log.warning("sticker.registration_conflict", device_id=device_id,
                    same_key=same_key, same_claim_code=same_code)
        raise DeviceAlreadyRegistered(device_id=device_id)
    log.info("sticker.registration_confirmed", device_id=device_id)
    return existing, False


# Lookups


def get_device(session: Session, device_id: str) -> Device | None:
    return session.get(Device, device_id)


def get_owned_device(session: Session, owner_id: int, device_id: str) -> Device:
    """Return the owner's device. Another owner's device is reported as not found."""
    device = session.get(Device, device_id)
    if device is None or device.owner_id != owner_id:
        raise StickerNotFound(device_id=device_id)
    return device


def devices_for_owner(session: Session, owner_id: int) -> list[Device]:
    statement = (
        select(Device)
        .where(Device.owner_id == owner_id)
        .order_by(col(Device.claimed_at).desc(), col(Device.device_id))
    )
    return list(session.exec(statement).all())


def device_for_letter(session: Session, letter_id: int) -> Device | None:
    return session.exec(select(Device).where(Device.letter_id == letter_id)).first()


def devices_for_letters(session: Session, letter_ids: list[int]) -> dict[int, Device]:
    """Map each letter id to its linked device. Letters without one are left out."""
    if not letter_ids:
        return {}
    statement = select(Device).where(col(Device.letter_id).in_(letter_ids))
    devices = session.exec(statement).all()
    return {device.letter_id: device for device in devices if device.letter_id is not None}


def recent_events(session: Session, device_id: str, limit: int = 20) -> list[DeviceEvent]:
    statement = (
        select(DeviceEvent)
        .where(DeviceEvent.device_id == device_id)
        .order_by(col(DeviceEvent.seq).desc())
        .limit(limit)
    )
    return list(session.exec(statement).all())


# Claiming and linking


def claim_device(session: Session, owner_id: int, claim_code: str) -> Device:
    """Give the sticker with this claim code to the owner.

    Claiming a sticker that the owner already has changes nothing. Raises ClaimCodeNotFound
    for an unknown code and StickerAlreadyClaimed when another owner has the sticker.
    """
    code = normalize_claim_code(claim_code)
    device = session.exec(select(Device).where(Device.claim_code == code)).first()
    if device is None:
        log.info("sticker.claim_failed", owner_id=owner_id, reason="unknown_code")
        raise ClaimCodeNotFound(claim_code=code)
    if device.owner_id == owner_id:
        return device
    if device.owner_id is not None:
        log.info("sticker.claim_failed", owner_id=owner_id, device_id=device.device_id,
                 reason="claimed_by_another_owner")
        raise StickerAlreadyClaimed(claim_code=code)

    # A conditional update, so that of two concurrent claims exactly one wins.
    claimed_at = utcnow()
    result = session.execute(
        sa.update(Device)
        .where(col(Device.device_id) == device.device_id, col(Device.owner_id).is_(None))
        .values(owner_id=owner_id, claimed_at=claimed_at)
    )
    session.refresh(device)
    if result.rowcount != 1 and device.owner_id != owner_id:
        raise StickerAlreadyClaimed(claim_code=code)
    log.info("sticker.claimed", owner_id=owner_id, device_id=device.device_id)
    return device


def link_to_letter(session: Session, owner_id: int, device_id: str, letter_id: int) -> Device:
    """Link the owner's sticker to the owner's reminder letter.

    Records "sticker_linked" on the letter's invoice timeline. Linking the same pair again
    changes nothing. A sticker sits on one letter and a letter carries one sticker, so a
    second link raises StickerAlreadyLinked or LetterAlreadyHasSticker. A sticker or letter
    of another owner raises StickerNotFound or the collection's LetterNotFound.
    """
    from backend.collection.service import get_owned_letter
    from backend.invoicing.service import record_timeline

    device = get_owned_device(session, owner_id, device_id)
    letter = get_owned_letter(session, owner_id, letter_id)
    if device.letter_id == letter_id:
        return device
    if device.letter_id is not None:
        raise StickerAlreadyLinked(device_id=device_id)
    other = device_for_letter(session, letter_id)
    if other is not None:
        raise LetterAlreadyHasSticker(device_id=other.device_id)

    # A conditional update in a savepoint. A concurrent link of the same sticker leaves
    # rowcount at 0, and a concurrent link of another sticker to this letter violates the
    # unique letter_id.
    try:
        with session.begin_nested():
            result = session.execute(
                sa.update(Device)
                .where(col(Device.device_id) == device_id, col(Device.letter_id).is_(None))
                .values(letter_id=letter_id)
            )
    except IntegrityError:
        other = device_for_letter(session, letter_id)
        raise LetterAlreadyHasSticker(device_id=other.device_id if other else "?") from None
    if result.rowcount != 1:
        raise StickerAlreadyLinked(device_id=device_id)
    session.refresh(device)
    record_timeline(session, letter.invoice_id, "sticker_linked", device_id=device_id,
                    letter_id=letter_id)
    log.info("sticker.linked", owner_id=owner_id, device_id=device_id, letter_id=letter_id,
             invoice_id=letter.invoice_id)
    return device


def ensure_demo_sticker(session: Session, owner_id: int, settings: Settings | None = None) -> Device:
    """Return the owner's virtual sticker, registering and claiming one the first time."""
    statement = (
        select(Device)
        .where(Device.owner_id == owner_id, col(Device.is_virtual).is_(True))
        .order_by(col(Device.registered_at))
    )
    device = session.exec(statement).first()
    if device is not None:
        return device
    device, _ = register_device(session, is_virtual=True, hardware_revision="virtual",
                                settings=settings)
    return claim_device(session, owner_id, device.claim_code)
