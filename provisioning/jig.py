"""The test jig: what sets the light on the sensor and listens to the speaker.

On a virtual board the jig is the board's control files (inputs.json for the
light, audio.wav for the microphone). On a real board without a jig the
operator covers the sensor and confirms whether the sticker cried.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Protocol

import click

from provisioning import messages
from simulator.vboard import LIGHT_CLOSED, LIGHT_OPEN, VirtualBoard

_WAV_HEADER_BYTES = 44


class Jig(Protocol):
    kind: str

    def set_dark(self) -> None: ...

    def set_bright(self) -> None: ...

    def start_listening(self) -> None: ...

    def sound_level(self) -> float | None:
        """Return the RMS level heard since start_listening (16-bit scale), or None: ask the operator."""


def virtual_board_directory(port: str) -> Path | None:
    """Return the virtual board's directory when the port is its `tty` link, else None."""
    path = Path(port)
    if path.name == "tty" and (path.parent / "serial.json").exists():
        return path.parent
    return None


class VirtualJig:
    kind = "virtual"

    def __init__(self, directory: Path) -> None:
        self.board = VirtualBoard(directory)
        self._audio_offset = 0

    def set_dark(self) -> None:
        self.board.set_light(LIGHT_CLOSED)

    def set_bright(self) -> None:
        self.board.set_light(LIGHT_OPEN)

    def start_listening(self) -> None:
        try:
            self._audio_offset = self.board.wav_path.stat().st_size
        except OSError:
            self._audio_offset = 0

    def sound_level(self) -> float | None:
        try:
            with self.board.wav_path.open("rb") as stream:
                stream.seek(max(self._audio_offset, _WAV_HEADER_BYTES))
                data = stream.read()
        except OSError:
            return 0.0
        count = len(data) // 2
        if count == 0:
            return 0.0
        samples = struct.unpack(f"<{count}h", data[: count * 2])
        return math.sqrt(sum(sample * sample for sample in samples) / count)


class OperatorJig:
    """A person at the station: prompts in the operator's language.

    NOTE: the prompts of boards provisioned in parallel share one terminal;
    without a jig, provision real boards one at a time.
    """

    kind = "operator"

    def __init__(self, port: str, lang: str | None) -> None:
        self.port = port
        self.lang = lang
        self.heard: bool | None = None

    def set_dark(self) -> None:
        click.prompt(messages.text("operator_dark", self.lang, port=self.port), default="",
                     show_default=False)

    def set_bright(self) -> None:
        click.prompt(messages.text("operator_light", self.lang, port=self.port), default="",
                     show_default=False)

    def start_listening(self) -> None:
        self.heard = None

    def sound_level(self) -> float | None:
        return None

    def confirm_sound(self) -> bool:
        return click.confirm(messages.text("operator_sound", self.lang, port=self.port))


def jig_for(port: str, lang: str | None) -> VirtualJig | OperatorJig:
    directory = virtual_board_directory(port)
    if directory is not None:
        return VirtualJig(directory)
    return OperatorJig(port, lang)
