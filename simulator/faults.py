"""Faults of a virtual board, kept with its other controls in inputs.json.

    "wifi": false                   the Wi-Fi access point is off
    "broker_down": {...}            the simulated socket layer (simulator/hardware/socket.py)
                                    refuses or drops connections to the broker's host and
                                    port: {"host", "port", "mode": "refuse" or "drop",
                                    "until": Unix time in seconds, or null until removed}
    "modem_fault": "error"          the simulated LTE-M modem's fault (simulator.modem):
                                    "unregistered", "error" or "silent"
    "flash_full": {"free_blocks": n}  a littlefs image filled, at each boot, until n blocks
                                    stay free (simulator/hardware/_flash.py)
    "speaker_sag_mv": n             the cell's drop while the amplifier is on, in mV

A power cut is an event, not a state: see VirtualBoard.request_power_cut().
"""

from __future__ import annotations

import time
from typing import Any

BROKER_MODES = ("refuse", "drop")
MODEM_FAULTS = ("unregistered", "error", "silent")


def active_faults(inputs: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Return the faults in force in these inputs, by name; an empty dict when there are none."""
    now = time.time() if now is None else now
    faults: dict[str, Any] = {}
    if inputs.get("wifi", True) is False:
        faults["wifi"] = "off"
    broker = inputs.get("broker_down")
    if broker:
        until = broker.get("until")
        if until is None or until > now:
            faults["broker"] = {
                "host": broker["host"],
                "port": broker["port"],
                "mode": broker["mode"],
                "left_s": None if until is None else round(until - now, 1),
            }
    if inputs.get("modem_fault"):
        faults["modem"] = inputs["modem_fault"]
    if inputs.get("flash_full"):
        faults["flash_full"] = {"free_blocks": inputs["flash_full"]["free_blocks"]}
    if inputs.get("speaker_sag_mv"):
        faults["speaker_sag_mv"] = int(inputs["speaker_sag_mv"])
    return faults


def describe_faults(faults: dict[str, Any]) -> str:
    """Return the faults as one line of text, "none" when there are none."""
    parts = []
    if "wifi" in faults:
        parts.append("Wi-Fi off")
    broker = faults.get("broker")
    if broker:
        verb = "refused" if broker["mode"] == "refuse" else "dropped"
        left = "until `broker up`" if broker["left_s"] is None else f"for {broker['left_s']:g} s more"
        parts.append(f"broker {broker['host']}:{broker['port']} {verb} {left}")
    if "modem" in faults:
        parts.append(f"modem {faults['modem']}")
    if "flash_full" in faults:
        parts.append(f"flash full ({faults['flash_full']['free_blocks']} blocks free from the next boot)")
    if "speaker_sag_mv" in faults:
        parts.append(f"battery sags {faults['speaker_sag_mv']} mV under the speaker")
    return ", ".join(parts) or "none"
