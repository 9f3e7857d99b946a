"""Commands for the MQTT side (``ikki mqtt ...``) and the sticker registry (``ikki stickers ...``)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from sqlmodel import col, select

from backend.core.db import get_engine, session_scope
from backend.core.logging import configure_logging
from backend.core.settings import get_settings
from backend.core.time import to_brussels


@click.group("mqtt")
def mqtt() -> None:
    """MQTT broker configuration, the embedded broker and ingestion."""


@mqtt.command("write-mosquitto-config")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="folder for mosquitto.conf, the password files, the ACL file and persistence data")
@click.option("--host", default=None, help="address of the backend's listener (default: IKKI_MQTT_HOST)")
@click.option("--port", default=None, type=int, help="port of the backend's listener (default: IKKI_MQTT_PORT)")
@click.option("--device-bind", default=None,
              help="address of the stickers' listener, such as 0.0.0.0 (default: the backend's address)")
@click.option("--device-port", default=None, type=int,
              help="port of the stickers' listener (default: IKKI_MQTT_DEVICE_PORT)")
@click.option("--user", "run_as", default=None,
              help="user Mosquitto switches to when started as root (default: Mosquitto's own, 'mosquitto')")
def mosquitto_config_command(directory: Path, host: str | None, port: int | None, device_bind: str | None,
                             device_port: int | None, run_as: str | None) -> None:
    """Write Mosquitto's password files, ACL file and configuration for every registered sticker.

    Run it again after registering stickers, then send SIGHUP to a running Mosquitto.
    """
    from backend.devices.mosquitto import MosquittoConfigError, write_mosquitto_config

    settings = get_settings()
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            files = write_mosquitto_config(session, directory, settings, host=host, port=port,
                                           device_bind=device_bind, device_port=device_port, run_as=run_as)
    except MosquittoConfigError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Wrote {files.password_file}, {files.backend_password_file} and {files.acl_file} for "
               f"the backend user and {files.device_count} sticker(s).")
    click.echo(f"Start Mosquitto with: mosquitto -c {files.config}")


@mqtt.command("broker")
def broker_command() -> None:
    """Run the embedded broker on IKKI_MQTT_HOST:IKKI_MQTT_PORT until interrupted."""
    from backend.devices.broker import EmbeddedBroker

    settings = get_settings()
    configure_logging(settings.environment)
    _run_until_signal(EmbeddedBroker(settings))


@mqtt.command("ingest")
def ingest_command() -> None:
    """Run ingestion of sticker events until interrupted, as a separate process."""
    from backend.devices.ingestion import Ingestion

    settings = get_settings()
    configure_logging(settings.environment)
    _run_until_signal(Ingestion(settings))


def _run_until_signal(part) -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    part.start()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        part.stop()


@click.group("stickers")
def stickers_admin() -> None:
    """Manage the sticker registry (for platform staff)."""


@stickers_admin.command("register")
@click.option("--device-id", default=None, help="device id (default: a new stk-... id)")
@click.option("--claim-code", default=None, help="claim code (default: a new one)")
@click.option("--virtual", is_flag=True, help="mark the sticker as a virtual board")
def register_command(device_id: str | None, claim_code: str | None, virtual: bool) -> None:
    """Register a sticker with a new key and print its id, claim code and key."""
    from backend.devices.service import register_device

    settings = get_settings()
    with session_scope(get_engine(settings.database_url)) as session:
        device, key = register_device(session, device_id=device_id, claim_code=claim_code,
                                      is_virtual=virtual, settings=settings)
    click.echo(f"device id:  {device.device_id}")
    click.echo(f"claim code: {device.claim_code}")
    click.echo(f"key:        {key.hex()}")


@stickers_admin.command("list")
def list_command() -> None:
    """List every registered sticker with its owner, letter, state and last contact."""
    from backend.devices.models import Device

    settings = get_settings()
    with session_scope(get_engine(settings.database_url)) as session:
        devices = session.exec(select(Device).order_by(col(Device.registered_at))).all()
        for device in devices:
            last_seen = to_brussels(device.last_seen_at).isoformat(timespec="seconds") if device.last_seen_at else "-"
            click.echo(f"{device.device_id}  {device.claim_code}  owner={device.owner_id or '-'}  "
                       f"letter={device.letter_id or '-'}  state={device.state or '-'}  "
                       f"last_seen={last_seen}{'  virtual' if device.is_virtual else ''}")
    if not devices:
        click.echo("No stickers registered.")


@stickers_admin.command("rejections")
@click.option("--limit", default=20, show_default=True, help="number of messages to show")
def rejections_command(limit: int) -> None:
    """Show the latest MQTT messages that ingestion rejected, newest first."""
    from backend.devices.models import RejectedMessage

    settings = get_settings()
    with session_scope(get_engine(settings.database_url)) as session:
        statement = select(RejectedMessage).order_by(col(RejectedMessage.id).desc()).limit(limit)
        rejected = session.exec(statement).all()
        for message in rejected:
            click.echo(f"{to_brussels(message.received_at).isoformat(timespec='seconds')}  {message.reason}  "
                       f"device={message.device_id or '-'}  topic={message.topic}  {message.detail}")
    if not rejected:
        click.echo("No rejected messages.")

