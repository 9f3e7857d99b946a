"""A full journal drops heartbeats first and never an "opened" event while another remains.

The journal runs under MicroPython on a real littlefs v2 file system
(vfs.VfsLfs2) on the virtual board's file-backed block device, so "full"
is the file system's own ENOSPC, not a counter.
"""

from __future__ import annotations

import json

from simulator.vboard import HARDWARE_MODULES_DIR

MOUNT = """
import json
import os
import sys
import vfs
sys.path.append({hardware!r})
from blockdev import FileBlockDevice
from journal import Journal

device = FileBlockDevice("flash.img", {blocks})
vfs.VfsLfs2.mkfs(device)
vfs.mount(vfs.VfsLfs2(device), "/lfs")
os.chdir("/lfs")
"""

FILL = """
journal = Journal(capacity=1000)
seq = 0
drops = []
kinds = {kinds!r}
# Fill the flash: heartbeats and other events, opened events in between.
while not drops:
    seq += 1
    kind = kinds[seq % len(kinds)]
    dropped = journal.append({{"seq": seq, "type": kind, "up": seq, "f": {{"pad": "x" * 100}}}})
    if dropped:
        drops.append(dropped)
filled = seq
# Then only opened events, until three more were dropped to make room.
while len(drops) < 4 and seq < filled + 100:
    seq += 1
    dropped = journal.append({{"seq": seq, "type": "opened", "up": seq, "f": {{"pad": "x" * 100}}}})
    if dropped:
        drops.append(dropped)
left = [journal.read(number)["type"] for number in journal.seqs()]
print(json.dumps({{"filled": filled, "drops": drops, "left": left, "seqs": list(journal.seqs()),
                   "last": seq, "dropped": journal.dropped, "dropped_file": open("journal.d/dropped").read()}}))
"""


def _run(run_firmware_script, kinds: list[str], blocks: int = 16) -> dict:
    source = MOUNT.format(hardware=str(HARDWARE_MODULES_DIR), blocks=blocks) + FILL.format(
        kinds=kinds
    )
    result = run_firmware_script(source)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_full_flash_drops_oldest_heartbeat_first(run_firmware_script):
    kinds = ["opened", "heartbeat", "armed", "heartbeat"]
    values = _run(run_firmware_script, kinds)

    assert values["filled"] > 4
    # Heartbeats were 2, 4, 6, ... (seq % 4 in 1, 3): the first drops take
    # them oldest first.
    heartbeats = [seq for seq in range(1, values["filled"] + 1) if kinds[seq % 4] == "heartbeat"]
    assert values["drops"][: len(heartbeats)] == heartbeats[: len(values["drops"])]
    assert values["dropped"] == len(values["drops"])
    assert values["dropped_file"] == str(values["dropped"])
    for seq in range(1, values["filled"] + 1):
        if kinds[seq % 4] == "opened":
            assert seq in values["seqs"], f"opened event {seq} was dropped"
    assert len(values["drops"]) == 4
    assert values["seqs"][-1] == values["last"]


def test_full_flash_of_opened_events_drops_oldest(run_firmware_script):
    values = _run(run_firmware_script, ["opened"])

    # Only opened events: the oldest go, the newest stay.
    assert values["drops"] == list(range(1, len(values["drops"]) + 1))
    assert len(values["drops"]) == 4
    assert values["seqs"][-1] == values["last"]
    assert set(values["left"]) == {"opened"}
    assert values["dropped"] == len(values["drops"])


def test_capacity_limit_drops_heartbeat_before_armed(run_firmware_script):
    result = run_firmware_script(
        """
import json
from journal import Journal
journal = Journal(capacity=3)
journal.append({"seq": 1, "type": "armed", "up": 1})
journal.append({"seq": 2, "type": "opened", "up": 2})
journal.append({"seq": 3, "type": "heartbeat", "up": 3})
first = journal.append({"seq": 4, "type": "opened", "up": 4})
second = journal.append({"seq": 5, "type": "opened", "up": 5})
third = journal.append({"seq": 6, "type": "opened", "up": 6})
print(json.dumps([first, second, third, list(journal.seqs()), journal.dropped]))
"""
    )

    assert json.loads(result.stdout) == [3, 1, 2, [4, 5, 6], 3]
