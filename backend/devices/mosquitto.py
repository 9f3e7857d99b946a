"""Mosquitto 2 configuration for the stickers: password files, ACL file and broker settings.

The password file uses Mosquitto 2's ``$7$`` format, as mosquitto_passwd 2.0.11 writes it:
``username:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512 of the password>`` with
a 12-byte salt and a 64-byte hash. Each device's password is derived from its key
(protocol.mqtt_password), so the file is rewritten from the registry whenever devices are
added, and a running Mosquitto reads it again on SIGHUP.

Stickers and the backend connect on separate listeners. On the stickers' listener each
client id is replaced by the username. A sticker's key can be read out of its flash, and
Mosquitto 2.0.11 gives a client that connects with ingestion's client id the persistent
session of ingestion. The events sent to that session meanwhile are dropped by the ACL
and never reach ingestion.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.settings import Settings
from backend.devices.models import Device
from backend.devices.protocol import config_topic, device_topic_prefix, mqtt_password
from backend.devices.service import device_key

# mosquitto_passwd 2.0.11 uses 101 iterations. The passwords are 128-bit random values, so
# the low count costs no security, because they cannot be guessed without the key.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
# Room for the fixed header, topic and packet id around the largest accepted payload.
PACKET_OVERHEAD_BYTES = 1024

# Stickers log in with the passwords of PASSWORD_FILE on their own listener, and the backend
# with BACKEND_PASSWORD_FILE on another, so neither can log in on the other's listener.
PASSWORD_FILE = "passwords"
BACKEND_PASSWORD_FILE = "backend-passwords"
ACL_FILE = "acl"
CONFIG_FILE = "mosquitto.conf"

# A username that would break a line of the password or ACL file.
_UNSAFE_USERNAME = re.compile(r"[\s:#]")


class MosquittoConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MosquittoFiles:
    directory: Path
    config: Path
    password_file: Path
    backend_password_file: Path
    acl_file: Path
    device_count: int


def password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Hash a password in Mosquitto 2's ``$7$`` (PBKDF2-HMAC-SHA512) format."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_matches(password: str, hashed: str) -> bool:
    """Check a password against a ``$7$`` hash, as Mosquitto does."""
    fields = hashed.split("$")
    if len(fields) != 5 or fields[1] != "7":
        raise ValueError("not a Mosquitto $7$ password hash")
    iterations, salt, digest = int(fields[2]), base64.b64decode(fields[3]), base64.b64decode(fields[4])
    computed = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return secrets.compare_digest(computed, digest)


def _check_username(username: str) -> None:
    if not username or _UNSAFE_USERNAME.search(username):
        raise ValueError(f"MQTT username {username!r} is empty or contains a space, ':' or '#'")


def password_file_text(passwords: dict[str, str]) -> str:
    """Write a password file from usernames and their passwords."""
    lines = []
    for username, password in sorted(passwords.items()):
        _check_username(username)
        lines.append(f"{username}:{password_hash(password)}")
    return "\n".join(lines) + "\n"


def acl_text(backend_username: str, device_ids: list[str]) -> str:
    """Write the ACL: the backend may use every topic, a device only its own."""
    _check_username(backend_username)
    blocks = [
        "# Written by ikki from the device registry; changes are overwritten.",
        f"user {backend_username}\ntopic readwrite #",
    ]
    for device_id in sorted(device_ids):
        _check_username(device_id)
        blocks.append(
            f"user {device_id}\n"
            f"topic write {device_topic_prefix(device_id)}#\n"
            f"topic read {config_topic(device_id)}"
        )
    return "\n\n".join(blocks) + "\n"


# Events queued for one client (ingestion) before Mosquitto drops new ones: about 200 MB of
# events at the maximum payload size.
MAX_QUEUED_MESSAGES = 50_000


def config_text(directory: Path, *, host: str, port: int, device_bind: str, device_port: int,
                max_payload_bytes: int, run_as: str | None = None) -> str:
    """Write mosquitto.conf with a listener for the backend and one for the stickers.

    ``run_as`` is the user that Mosquitto switches to when started as root.
    """
    if device_port == port:
        raise MosquittoConfigError(
            f"the stickers need a listener of their own: choose a device port other than {port} "
            "(IKKI_MQTT_DEVICE_PORT or --device-port)"
        )
    directory = directory.resolve()
    # Mosquitto started as root switches to the user "mosquitto" unless the option "user"
    # names another. That user must read the password files (mode 0600) and write the data folder.
    user_lines = [f"user {run_as}"] if run_as else []
    return "\n".join([
        "# Written by ikki; changes are overwritten. Start with: mosquitto -c " + str(directory / CONFIG_FILE),
        *user_lines,
        "per_listener_settings true",
        # Keeps persistent sessions, and the events queued for ingestion, across restarts.
        "persistence true",
        f"persistence_location {directory / 'data'}/",
        # A client that sends a larger packet is disconnected by the broker.
        f"max_packet_size {max_payload_bytes + PACKET_OVERHEAD_BYTES}",
        # Mosquitto drops QoS 1 messages beyond 1,000 queued for one client by default, which
        # loses events whenever a burst outruns ingestion; this bound is for memory only.
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        "log_dest stderr",
        "",
        "# The backend: ingestion and the publishing of sticker configurations.",
        f"listener {port} {host}",
        "allow_anonymous false",
        f"password_file {directory / BACKEND_PASSWORD_FILE}",
        f"acl_file {directory / ACL_FILE}",
        "",
        "# The stickers. Each one's client id becomes its username, so that no sticker can take",
        "# over the persistent session of another client, such as ingestion's.",
        f"listener {device_port} {device_bind}",
        "allow_anonymous false",
        "use_username_as_clientid true",
        f"password_file {directory / PASSWORD_FILE}",
        f"acl_file {directory / ACL_FILE}",
        "",
    ])


def _write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    # A running Mosquitto reads the files again at each SIGHUP, so it must never find one half written.
    temporary = path.with_name(path.name + ".tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as handle:
        handle.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def write_mosquitto_config(session: Session, directory: Path, settings: Settings, *,
                           host: str | None = None, port: int | None = None,
                           device_bind: str | None = None, device_port: int | None = None,
                           run_as: str | None = None) -> MosquittoFiles:
    """Write the password files, the ACL file and mosquitto.conf for every registered device.

    The backend listener defaults to mqtt_host:mqtt_port, the stickers' listener to
    mqtt_host:mqtt_device_port. Raises MosquittoConfigError when both ports are the same.
    """
    host = host or settings.mqtt_host
    port = port or settings.mqtt_port
    config = config_text(
        directory, host=host, port=port, device_bind=device_bind or host,
        device_port=device_port or settings.mqtt_device_port,
        max_payload_bytes=settings.mqtt_max_payload_bytes, run_as=run_as,
    )
    devices = list(session.exec(select(Device).order_by(col(Device.device_id))).all())
    device_passwords = {device.device_id: mqtt_password(device_key(device, settings)) for device in devices}

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    files = MosquittoFiles(
        directory=directory,
        config=directory / CONFIG_FILE,
        password_file=directory / PASSWORD_FILE,
        backend_password_file=directory / BACKEND_PASSWORD_FILE,
        acl_file=directory / ACL_FILE,
        device_count=len(devices),
    )
    _write_atomically(files.password_file, password_file_text(device_passwords), mode=0o600)
    _write_atomically(files.backend_password_file,
                      password_file_text({settings.mqtt_username: settings.mqtt_password}), mode=0o600)
    _write_atomically(files.acl_file, acl_text(settings.mqtt_username, list(device_passwords)))
    _write_atomically(files.config, config)
    return files
