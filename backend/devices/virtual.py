"""The demo's virtual sticker: the real firmware on the MicroPython unix port, supervised
in a background thread of the product, with its board directory under ``var/stickers/``."""

from __future__ import annotations

from pathlib import Path

import structlog

from backend.core.db import get_engine, session_scope
from backend.core.settings import Settings
from backend.devices import service
from simulator.vboard import VirtualBoard, make_config

log = structlog.get_logger(__name__)

# Short delays, so that a visitor sees the sticker arm and cry within seconds.
DEMO_TIMINGS = {"arm_delay_s": 3, "cry_max_s": 20, "cry_stop_dark_s": 2, "debounce_ms": 200}


def board_directory(settings: Settings, device_id: str) -> Path:
    return settings.data_dir / "stickers" / device_id


def demo_board(settings: Settings, device_id: str) -> VirtualBoard:
    """Return a handle on the board's files, usable from any process while the board runs."""
    return VirtualBoard(board_directory(settings, device_id))


def start_virtual_sticker(settings: Settings, device_id: str) -> VirtualBoard:
    """Install the firmware with the device's identity and start the board."""
    with session_scope(get_engine(settings.database_url), write_lock=False) as session:
        device = service.get_device(session, device_id)
        key = service.device_key(device, settings)
    config = make_config(
        device_id, key.hex(), mqtt_host=settings.mqtt_device_host, mqtt_port=settings.mqtt_device_port,
        **DEMO_TIMINGS,
    )
    board = VirtualBoard(board_directory(settings, device_id), config)
    board.install()
    board.start()
    log.info("virtual_sticker.started", device_id=device_id, directory=str(board.directory))
    return board
