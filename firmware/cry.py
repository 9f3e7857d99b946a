# The crying loop: streams cry.pcm (8 kHz, 16-bit signed little-endian mono,
# made by tools/make_cry.py) to I2S in chunks through one preallocated buffer,
# starting over at the end of the file.
from micropython import const

SOUND_FILE = "cry.pcm"
SAMPLE_RATE = const(8000)
SAMPLE_BITS = const(16)
CHUNK_BYTES = const(512)  # 32 ms of sound per write
# I2S DMA buffer: 0.5 s of sound, so the main loop may spend that long on
# sensors, flash and network between two writes before the sound breaks up.
I2S_BUFFER_BYTES = const(8000)


def volume_shift(volume):
    # Map a volume in percent to a right shift of the samples (6 dB a step),
    # rounding up: 100..51 % -> 0, 50..26 % -> -1, 25..13 % -> -2, ...
    # Return None for 0 %: the player then writes silence.
    if volume <= 0:
        return None
    shift = 0
    level = volume
    while level * 2 <= 100 and shift > -15:
        level *= 2
        shift -= 1
    return shift


class CryPlayer:
    def __init__(self, board, volume, path=SOUND_FILE):
        self._board = board
        self._path = path
        self._shift = volume_shift(volume)
        self._buffer = bytearray(CHUNK_BYTES)
        self._view = memoryview(self._buffer)
        self._stream = None
        self.bytes_played = 0

    @property
    def playing(self):
        return self._stream is not None

    def start(self):
        self._stream = open(self._path, "rb")  # noqa: SIM115 - open while the cry plays; stop() closes it
        self.bytes_played = 0
        self._board.audio_start(SAMPLE_RATE, SAMPLE_BITS, I2S_BUFFER_BYTES)

    def pump(self):
        # Write one chunk. Blocks while the I2S buffer is full, so a loop that
        # calls pump() runs at the pace of the sound (one chunk per 32 ms).
        stream = self._stream
        if stream is None:
            raise OSError("the cry is not playing: call start() first")
        filled = stream.readinto(self._buffer)
        while filled < CHUNK_BYTES:
            # End of the loop: continue from the start of the file.
            stream.seek(0)
            count = stream.readinto(self._view[filled:])
            if not count:
                raise OSError("sound file %s is empty" % self._path)
            filled += count
        if self._shift is None:
            for i in range(CHUNK_BYTES):
                self._buffer[i] = 0
        elif self._shift:
            self._board.audio_shift(self._buffer, self._shift)
        self._board.audio_write(self._buffer)
        self.bytes_played += CHUNK_BYTES

    def stop(self):
        self._board.audio_stop()
        if self._stream is not None:
            self._stream.close()
            self._stream = None
