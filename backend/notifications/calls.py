"""Phone calls. The local provider renders the call script to text and, where espeak-ng is
installed, to a WAV file; a telephony provider's REST API takes its place by setting."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

# espeak-ng voice per language.
VOICES = {"fr": "fr-be", "nl": "nl", "en": "en-gb"}
ESPEAK_TIMEOUT_S = 60


def spell_characters(text: str) -> str:
    """Space out the characters of an identifier so text-to-speech reads them one by one."""
    return " ".join(character for character in text if not character.isspace())


def speakable(script: str, identifiers: list[str]) -> str:
    for identifier in identifiers:
        script = script.replace(identifier, spell_characters(identifier))
    return re.sub(r"\s+", " ", script).strip()


def render_wav(text: str, language: str, path: Path, espeak_command: str) -> Path | None:
    """Speak ``text`` into a WAV file with espeak-ng; returns None when espeak-ng is missing."""
    executable = shutil.which(espeak_command)
    if executable is None:
        log.info("call.wav_skipped", reason="espeak-ng not installed", command=espeak_command)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [executable, "-v", VOICES.get(language, "en"), "-s", "150", "-w", str(path), text],
        check=True, capture_output=True, timeout=ESPEAK_TIMEOUT_S,
    )
    return path
