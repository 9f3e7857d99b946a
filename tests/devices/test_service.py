from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import select

from backend.collection.service import LetterNotFound
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.errors import InvalidInput
from backend.devices import service
from backend.devices.models import Device
from backend.devices.protocol import mqtt_password
from backend.invoicing.models import TimelineEntry
from tests.devices.conftest import make_letter, make_owner


def timeline_kinds(session, invoice_id: int) -> list[str]:
    statement = select(TimelineEntry).where(TimelineEntry.invoice_id == invoice_id).order_by(TimelineEntry.id)
    return [entry.kind for entry in session.exec(statement).all()]


# Registration and keys


def test_register_generates_id_key_and_claim_code(sqlite_settings, engine):
    with session_scope(engine) as session:
        device, key = service.register_device(session)

    assert device.device_id.startswith("stk-")
    assert len(key) == 32
    assert service.CLAIM_CODE_LENGTH == 16
    groups = device.claim_code.split("-")
    assert [len(group) for group in groups] == [4, 4, 4, 4]
    assert all(character in service.CLAIM_CODE_ALPHABET for character in "".join(groups))
    assert not set("0O1IL2Z5S8B") & set(service.CLAIM_CODE_ALPHABET)


def test_key_is_encrypted_at_rest(db_settings):
    engine = core_db.get_engine(db_settings.database_url)
    key = bytes(range(32))
    with session_scope(engine) as session:
        service.register_device(session, device_id="stk-at-rest", key=key)

    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT key_encrypted FROM devices WHERE device_id = 'stk-at-rest'")).scalar_one()
    assert key.hex() not in raw
    assert key.hex().upper() not in raw
    assert raw.encode() != key
    assert Fernet(db_settings.device_key_encryption_key).decrypt(raw.encode()) == key
    with session_scope(engine) as session:
        assert service.device_key(session.get(Device, "stk-at-rest")) == key


def test_key_unreadable_under_other_fernet_key(sqlite_settings, engine):
    with session_scope(engine) as session:
        device, _ = service.register_device(session, device_id="stk-other-key")
    other = sqlite_settings.model_copy(update={"device_key_encryption_key": Fernet.generate_key().decode()})

    with pytest.raises(service.DeviceKeyUnreadable) as caught:
        service.device_key(device, other)
    assert caught.value.status_code == 500


def test_mqtt_password_matches_openssl():
    # printf mqtt-password | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f
    key = bytes(range(32))
    assert mqtt_password(key) == "45df0a4405c1b023c9b2d0200b4ee642"
    assert service.mqtt_password is mqtt_password


@pytest.mark.parametrize("device_id", ["ab", "has/slash", "plus+", "hash#", "space id", "é-accent", "x" * 65])
def test_register_rejects_bad_device_id(sqlite_settings, engine, device_id):
    with session_scope(engine) as session, pytest.raises(InvalidInput):
        service.register_device(session, device_id=device_id)


def test_register_rejects_backend_username_as_id(sqlite_settings, engine):
    with session_scope(engine) as session, pytest.raises(InvalidInput):
        service.register_device(session, device_id=sqlite_settings.mqtt_username)


def test_register_rejects_reserved_prefix(sqlite_settings, engine):
    for device_id in (sqlite_settings.mqtt_ingest_client_id, "IKKI-anything"):
        with session_scope(engine) as session, pytest.raises(InvalidInput):
            service.register_device(session, device_id=device_id)


def test_register_rejects_taken_id_and_code(sqlite_settings, engine):
    with session_scope(engine) as session:
        first, _ = service.register_device(session, device_id="stk-first")
    with session_scope(engine) as session, pytest.raises(service.DeviceAlreadyRegistered):
        service.register_device(session, device_id="stk-first")
    with session_scope(engine) as session, pytest.raises(service.ClaimCodeTaken):
        service.register_device(session, device_id="stk-second", claim_code=first.claim_code)


def test_factory_registration_is_idempotent(sqlite_settings, engine):
    key = bytes(range(32))
    with session_scope(engine) as session:
        device, created = service.register_factory_device(session, "stk-factory", key)
    assert created
    with session_scope(engine) as session:
        again, created_again = service.register_factory_device(session, "stk-factory", key, device.claim_code)
    assert not created_again
    assert again.claim_code == device.claim_code
    with session_scope(engine) as session, pytest.raises(service.DeviceAlreadyRegistered):
        service.register_factory_device(session, "stk-factory", bytes(32))


# Claiming


def test_claim_normalizes_typed_code(sqlite_settings, engine):
    with session_scope(engine) as session:
        owner_id = make_owner(session)
        device, _ = service.register_device(session, claim_code="ACDE-FGHJ-KMNP-QRTU")

    with session_scope(engine) as session:
        claimed = service.claim_device(session, owner_id, " acde fghj-kmnp qrtu ")
    assert claimed.device_id == device.device_id
    assert claimed.owner_id == owner_id
    assert claimed.claimed_at is not None


def test_claim_unknown_code_fails(sqlite_settings, engine):
    with session_scope(engine) as session:
        owner_id = make_owner(session)
    with session_scope(engine) as session, pytest.raises(service.ClaimCodeNotFound):
        service.claim_device(session, owner_id, "ACDE-FGHJ-KMNP-QRTU")


@pytest.mark.parametrize("typed", ["ACDE-FGHJ-KMNP", "ACDE-FGHJ-KMNP-QRT0", "", "ACDE-FGHJ-KMNP-QRTU-A"])
def test_claim_malformed_code_fails(sqlite_settings, engine, typed):
    with session_scope(engine) as session:
        owner_id = make_owner(session)
    with session_scope(engine) as session, pytest.raises(InvalidInput):
        service.claim_device(session, owner_id, typed)


@pytest.fixture
def claimed(sqlite_settings, engine):
    """A sticker claimed by a first owner, and a second owner."""
    with session_scope(engine) as session:
        first = make_owner(session, "first@example.be")
        second = make_owner(session, "second@example.be")
        device, _ = service.register_device(session)
        service.claim_device(session, first, device.claim_code)
    return engine, first, second, device


def test_claim_of_claimed_sticker_fails(claimed):
    engine, first, second, device = claimed

    with session_scope(engine) as session, pytest.raises(service.StickerAlreadyClaimed):
        service.claim_device(session, second, device.claim_code)

    with session_scope(engine) as session:
        assert session.get(Device, device.device_id).owner_id == first


def test_claim_own_sticker_again_succeeds(claimed):
    engine, first, _, device = claimed
    with session_scope(engine) as session:
        first_claimed_at = session.get(Device, device.device_id).claimed_at

    with session_scope(engine) as session:
        again = service.claim_device(session, first, device.claim_code)

    assert again.owner_id == first
    assert again.claimed_at == first_claimed_at


def test_concurrent_claims_have_one_winner(db_settings):
    engine = core_db.get_engine(db_settings.database_url)
    with session_scope(engine) as session:
        owners = [make_owner(session, f"owner{n}@example.be") for n in range(4)]
        device, _ = service.register_device(session)
    barrier = threading.Barrier(len(owners))
    outcomes: dict[int, str] = {}

    def claim(owner_id: int) -> None:
        barrier.wait()
        try:
            # SQLite fails the read-then-write transaction that loses the race unless it takes
            # the write lock first. PostgreSQL ignores write_lock.
            with session_scope(engine, write_lock=True) as session:
                service.claim_device(session, owner_id, device.claim_code)
            outcomes[owner_id] = "claimed"
        except service.StickerAlreadyClaimed:
            outcomes[owner_id] = "refused"

    threads = [threading.Thread(target=claim, args=(owner_id,)) for owner_id in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == ["claimed", "refused", "refused", "refused"]
    winner = next(owner_id for owner_id, outcome in outcomes.items() if outcome == "claimed")
    with session_scope(engine) as session:
        assert session.get(Device, device.device_id).owner_id == winner


# Linking


@pytest.fixture
def owned(sqlite_settings, engine):
    """An owner with one claimed sticker and two letters on one invoice."""
    with session_scope(engine) as session:
        owner_id = make_owner(session)
        device, _ = service.register_device(session, device_id="stk-owned")
        service.claim_device(session, owner_id, device.claim_code)
        letter = make_letter(session, owner_id)
        second_letter = make_letter(session, owner_id, letter.invoice_id)
    return engine, owner_id, device.device_id, letter, second_letter


def test_link_records_timeline(owned):
    engine, owner_id, device_id, letter, _ = owned
    with session_scope(engine) as session:
        device = service.link_to_letter(session, owner_id, device_id, letter.id)
        assert device.letter_id == letter.id
    with session_scope(engine) as session:
        assert service.device_for_letter(session, letter.id).device_id == device_id
        assert timeline_kinds(session, letter.invoice_id).count("sticker_linked") == 1

    with session_scope(engine) as session:
        service.link_to_letter(session, owner_id, device_id, letter.id)
    with session_scope(engine) as session:
        assert timeline_kinds(session, letter.invoice_id).count("sticker_linked") == 1


def test_link_to_second_letter_fails(owned):
    engine, owner_id, device_id, letter, second_letter = owned
    with session_scope(engine) as session:
        service.link_to_letter(session, owner_id, device_id, letter.id)
    with session_scope(engine) as session, pytest.raises(service.StickerAlreadyLinked):
        service.link_to_letter(session, owner_id, device_id, second_letter.id)


def test_letter_takes_one_sticker(owned):
    engine, owner_id, device_id, letter, _ = owned
    with session_scope(engine) as session:
        other, _ = service.register_device(session, device_id="stk-owned-too")
        service.claim_device(session, owner_id, other.claim_code)
        service.link_to_letter(session, owner_id, device_id, letter.id)
    with session_scope(engine) as session, pytest.raises(service.LetterAlreadyHasSticker):
        service.link_to_letter(session, owner_id, "stk-owned-too", letter.id)
    with session_scope(engine) as session:
        assert session.get(Device, "stk-owned-too").letter_id is None


def test_link_needs_owners_sticker_and_letter(owned):
    engine, owner_id, device_id, letter, _ = owned
    with session_scope(engine) as session:
        stranger = make_owner(session, "stranger@example.be")
        strangers_device, _ = service.register_device(session, device_id="stk-stranger")
        service.claim_device(session, stranger, strangers_device.claim_code)
        service.register_device(session, device_id="stk-unclaimed")
        strangers_letter = make_letter(session, stranger)

    cases = [
        (stranger, device_id, strangers_letter.id, service.StickerNotFound),
        (owner_id, "stk-stranger", letter.id, service.StickerNotFound),
        (owner_id, "stk-unclaimed", letter.id, service.StickerNotFound),
        (owner_id, "stk-missing", letter.id, service.StickerNotFound),
        (owner_id, device_id, strangers_letter.id, LetterNotFound),
        (owner_id, device_id, 999_999, LetterNotFound),
    ]
    for acting_owner, acting_device, letter_id, error in cases:
        with session_scope(engine) as session, pytest.raises(error):
            service.link_to_letter(session, acting_owner, acting_device, letter_id)
    with session_scope(engine) as session:
        assert session.get(Device, device_id).letter_id is None


def test_demo_sticker_is_created_once(sqlite_settings, engine):
    with session_scope(engine) as session:
        owner_id = make_owner(session)
        first = service.ensure_demo_sticker(session, owner_id)
    with session_scope(engine) as session:
        second = service.ensure_demo_sticker(session, owner_id)
        assert len(service.devices_for_owner(session, owner_id)) == 1
    assert first.device_id == second.device_id
    assert first.is_virtual
    assert first.owner_id == owner_id
