# Event sequence numbers that never repeat, even across resets and power cuts.
#
# Flash stores a ceiling: every number below it may have been used. The store
# hands out numbers only below a ceiling that is already on flash, and raises
# the ceiling by a whole block at a time, so a power cut skips the rest of a
# block but never reuses a number. The ceiling is written alternately to two
# slot files, each with a CRC-32, so a write torn by a power cut leaves the
# other slot, which contains the previous ceiling, readable.
#
# Across deep sleep the application keeps the next unused number in RTC
# memory and passes it back as `resume`, so a wake-up does not skip the rest
# of the block.
import binascii

from micropython import const

_SLOTS = ("seq.a", "seq.b")
DEFAULT_BLOCK = const(16)


def _read_slot(path):
    # Return the ceiling stored in one slot, or 0 if the slot is missing or torn.
    try:
        with open(path) as stream:
            text = stream.read()
    except OSError:
        return 0
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return 0
    try:
        checksum = int(parts[1], 16)
    except ValueError:
        return 0
    if binascii.crc32(parts[0].encode()) != checksum:
        return 0
    return int(parts[0])


class SequenceStore:
    def __init__(self, directory="", block=DEFAULT_BLOCK, resume=0):
        prefix = directory + "/" if directory else ""
        self._paths = (prefix + _SLOTS[0], prefix + _SLOTS[1])
        self._block = block
        ceilings = (_read_slot(self._paths[0]), _read_slot(self._paths[1]))
        self._ceiling = max(ceilings[0], ceilings[1], 1)
        # The next write replaces the lower ceiling (slot a on a fresh device).
        self._slot = 0 if ceilings[0] <= ceilings[1] else 1
        self._next = self._ceiling
        # Only a number of the last reserved block can be resumed: every
        # number below `resume` was handed out, none above it.
        if resume > 0 and self._ceiling - block <= resume < self._ceiling:
            self._next = resume

    def peek(self):
        # Return the number next() will hand out, without reserving it.
        return self._next

    def next(self):
        if self._next >= self._ceiling:
            self._reserve(self._next + self._block)
        number = self._next
        self._next += 1
        return number

    def _reserve(self, ceiling):
        text = "%d %08x\n" % (ceiling, binascii.crc32(str(ceiling).encode()))
        with open(self._paths[self._slot], "w") as stream:
            stream.write(text)
        self._slot ^= 1
        self._ceiling = ceiling
