"""Sequence numbers (seqno.py) never repeat across resets, power cuts and torn writes."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from simulator.upython import micropython_command, micropython_env
from simulator.vboard import FIRMWARE_DIR

ALLOCATE = """
import sys
from seqno import SequenceStore
store = SequenceStore(block={block}, resume={resume})
for _ in range({count}):
    print(store.next())
"""


def _allocate(run_firmware_script, count: int, block: int = 4, resume: int = 0) -> list[int]:
    result = run_firmware_script(ALLOCATE.format(count=count, block=block, resume=resume))
    return [int(line) for line in result.stdout.split()]


def test_sequence_survives_reset(run_firmware_script):
    first = _allocate(run_firmware_script, 6)
    second = _allocate(run_firmware_script, 3)
    third = _allocate(run_firmware_script, 1)

    assert first == [1, 2, 3, 4, 5, 6]
    # Each boot skips the unused rest of the last reserved block (4 numbers).
    assert second == [9, 10, 11]
    assert third == [13]


def test_resume_continues_the_reserved_block(run_firmware_script):
    first = _allocate(run_firmware_script, 2, block=8)
    resumed = _allocate(run_firmware_script, 2, block=8, resume=first[-1] + 1)

    assert first == [1, 2]
    assert resumed == [3, 4]


def test_resume_outside_the_last_block_is_ignored(run_firmware_script):
    _allocate(run_firmware_script, 20, block=8)  # ceiling is now 25

    too_low = _allocate(run_firmware_script, 1, block=8, resume=5)
    too_high = _allocate(run_firmware_script, 1, block=8, resume=1000)

    assert too_low[0] >= 25
    assert too_high[0] > too_low[0]
    assert too_high[0] < 1000


def test_power_cut_never_reuses_a_number(micropython_available, tmp_path: Path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "allocate.py").write_text(
        "from seqno import SequenceStore\n"
        "import time\n"
        "store = SequenceStore(block=4)\n"
        "while True:\n"
        "    print(store.next())\n"
        "    time.sleep_ms(1)\n"
    )
    seen: list[int] = []
    # Cut the power after a different count of numbers each time, so the cut
    # falls at different places in the reserved blocks.
    for cut_after in (1, 3, 6, 11):
        process = subprocess.Popen(
            micropython_command("allocate.py"),
            cwd=flash,
            env=micropython_env([FIRMWARE_DIR]),
            stdout=subprocess.PIPE,
            text=True,
        )
        numbers = []
        for line in process.stdout:
            numbers.append(int(line))
            if len(numbers) == cut_after:
                process.send_signal(signal.SIGKILL)
                break
        output, _ = process.communicate(timeout=10)
        numbers += [int(line) for line in output.split()]
        assert len(numbers) >= cut_after
        seen.extend(numbers)

    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)


def test_torn_slot_write_falls_back_to_other_slot(run_firmware_script, tmp_path: Path):
    first = _allocate(run_firmware_script, 6)  # slot a contains ceiling 5, slot b ceiling 9
    slot_a = tmp_path / "flash" / "seq.a"
    # A power cut while slot a is rewritten with the next ceiling, 13: the
    # write is torn and no number of the new block has been handed out yet.
    slot_a.write_text("1")

    after = _allocate(run_firmware_script, 2)

    assert first == [1, 2, 3, 4, 5, 6]
    assert after == [9, 10]


def test_checksum_rejects_altered_ceiling(run_firmware_script, tmp_path: Path):
    _allocate(run_firmware_script, 1)  # slot a contains ceiling 5
    slot_a = tmp_path / "flash" / "seq.a"
    number, checksum = slot_a.read_text().split()
    slot_a.write_text(f"{number}9 {checksum}\n")  # altered: the checksum no longer matches

    after = _allocate(run_firmware_script, 1)

    # Nothing valid is left on flash, so the store starts over. That is right
    # only for a first write torn before any number was used. The checksum
    # keeps an altered ceiling from being trusted.
    assert after == [1]
