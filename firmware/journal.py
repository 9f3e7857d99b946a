# The event journal in flash: one file per event, named by its sequence number,
# removed only after the broker acknowledged the event (PUBACK).
#
# Each record is written to a temporary file and then renamed, so a power cut
# leaves either the whole record or none of it. The journal is bounded by its
# capacity and by the free space of the flash. When either is reached, a new
# event pushes out the oldest heartbeat, else the oldest other event that is
# not "opened", else the oldest "opened" event. The count of dropped events
# is kept on flash and reported with the next events ("dropped").
import errno
import json
import os

from micropython import const

# Not "journal": a directory of the module's name would shadow the module.
DEFAULT_DIRECTORY = "journal.d"
DEFAULT_CAPACITY = const(32)
_NAME_LENGTH = const(10)  # zero-padded sequence number, so names sort by number
_SUFFIX = ".json"
_TEMPORARY = "new.tmp"
_DROPPED = "dropped"
# POSIX ENOSPC ("no space left on device"); MicroPython's errno module may
# not name it, and littlefs on the ESP32 port raises this number.
_ENOSPC = const(28)


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Journal:
    def __init__(self, directory=DEFAULT_DIRECTORY, capacity=DEFAULT_CAPACITY):
        self._directory = directory
        self.capacity = capacity
        if not _exists(directory):
            os.mkdir(directory)
        self._seqs = []
        for name in os.listdir(directory):
            if name.endswith(_SUFFIX) and name[:_NAME_LENGTH].isdigit():
                self._seqs.append(int(name[:_NAME_LENGTH]))
        self._seqs.sort()
        self.dropped = self._read_dropped()

    def __len__(self):
        return len(self._seqs)

    def seqs(self):
        return tuple(self._seqs)

    def highest_seq(self):
        return self._seqs[-1] if self._seqs else 0

    def _path(self, seq):
        return "%s/%010d%s" % (self._directory, seq, _SUFFIX)

    def append(self, record):
        # Store a record (a dict with at least "seq" and "type") on flash.
        # Return the sequence number of the last record dropped to make room,
        # or 0. Raise OSError when even an empty journal has no room.
        seq = record["seq"]
        if self._seqs and seq <= self._seqs[-1]:
            raise ValueError(
                "journal record seq %d must be above the last seq %d" % (seq, self._seqs[-1])
            )
        dropped_seq = 0
        if len(self._seqs) >= self.capacity:
            dropped_seq = self._pick_victim()
            self.discard(dropped_seq)

        text = json.dumps(record)
        while True:
            try:
                self._write(seq, text)
                break
            except OSError as error:
                if error.errno != _ENOSPC or not self._seqs:
                    raise
            # The flash is full: make room and try again.
            dropped_seq = self._pick_victim()
            self.discard(dropped_seq)
        self._seqs.append(seq)
        return dropped_seq

    def _write(self, seq, text):
        temporary = self._directory + "/" + _TEMPORARY
        try:
            with open(temporary, "w") as stream:
                stream.write(text)
            os.rename(temporary, self._path(seq))
        except OSError:
            _remove_quietly(temporary)
            raise

    def _pick_victim(self):
        # The oldest heartbeat, else the oldest event that is not "opened",
        # else the oldest event. An unreadable record goes first.
        other = 0
        for seq in self._seqs:
            record = self.read(seq)
            kind = None if record is None else record.get("type")
            if kind is None or kind == "heartbeat":
                return seq
            if not other and kind != "opened":
                other = seq
        return other or self._seqs[0]

    def read(self, seq):
        # Return the record with this sequence number, or None if its file is
        # missing or unreadable.
        try:
            with open(self._path(seq)) as stream:
                record = json.loads(stream.read())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        record["seq"] = seq
        return record

    def oldest(self):
        # Return the oldest readable record, or None when the journal is empty.
        # An unreadable record cannot ever be sent, so it is removed and counted
        # as dropped.
        while self._seqs:
            seq = self._seqs[0]
            record = self.read(seq)
            if record is not None:
                return record
            self.discard(seq)
        return None

    def discard(self, seq):
        # Remove a record that was not delivered and count it as dropped.
        self.remove(seq)
        self.dropped += 1
        self._write_dropped()

    def remove(self, seq):
        try:
            os.remove(self._path(seq))
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
        if seq in self._seqs:
            self._seqs.remove(seq)

    def _read_dropped(self):
        try:
            with open(self._directory + "/" + _DROPPED) as stream:
                return int(stream.read().strip() or "0")
        except (OSError, ValueError):
            return 0

    def _write_dropped(self):
        temporary = self._directory + "/" + _TEMPORARY
        try:
            with open(temporary, "w") as stream:
                stream.write(str(self.dropped))
            os.rename(temporary, self._directory + "/" + _DROPPED)
        except OSError as error:
            _remove_quietly(temporary)
            # A full flash loses the count until the next drop writes it; the
            # events sent in this session still carry it (self.dropped).
            if error.errno != _ENOSPC:
                raise
