# Simulated machine module of the virtual board: the subset of the ESP32
# port's API that the sticker hardware uses, with the same constants.
# Inputs come from the board directory (see _vboard.py); outputs go to
# hardware.log and audio.wav.
import os
import socket
import sys
import time

import _vboard

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

# Full scale of the ESP32-S3 ADC at 11 dB attenuation, in microvolts.
_ADC_FULL_SCALE_UV = 3100000


def reset_cause():
    return _vboard.boot_info()["reset_cause"]


def wake_reason():
    return _vboard.boot_info()["wake_reason"]


def deepsleep(time_ms=0):
    _vboard.deep_sleep(time_ms)


def lightsleep(time_ms):
    # NOTE: wakes only on its timer; light-sleep wake on pins is not simulated.
    time.sleep_ms(time_ms)


def reset():
    _vboard.log("reset")
    sys.exit(_vboard.EXIT_RESET)


def soft_reset():
    reset()


def freq(hz=None):
    return 240000000


def idle():
    time.sleep_ms(1)


def unique_id():
    return b"\x02\x1c\x1d\x00\x00\x01"


class WDT:
    # The supervisor resets the board (reset cause WDT_RESET) when watchdog.json
    # was not touched for timeout ms. feed() rewrites it at most every quarter
    # of the timeout, which keeps the file traffic low.
    def __init__(self, id=0, timeout=5000):
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        self._timeout_ms = timeout
        self._written_us = 0
        _vboard.log("wdt.start", timeout_ms=timeout)
        self.feed()

    def feed(self):
        now = _vboard.now_us()
        if now - self._written_us < self._timeout_ms * 250:
            return
        self._written_us = now
        _vboard.write_json("watchdog.json", {"timeout_ms": self._timeout_ms, "fed_us": now})


class UART:
    # The UART to the LTE-M modem: a TCP connection to the simulated modem
    # (simulator/modem.py) on the port that hardware.json names as
    # "modem_port". Reads never block: any() tells what has arrived.
    def __init__(self, id, baudrate=115200, **settings):
        port = _vboard.hardware().get("modem_port")
        if not port:
            raise OSError("UART%d: no modem on this virtual board (hardware.json modem_port)" % id)
        self._sock = socket.socket()
        self._sock.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        self._sock.setblocking(False)
        self._pending = bytearray()
        _vboard.log("uart.init", uart=id, baudrate=baudrate, modem_port=port)

    def _receive(self):
        try:
            data = self._sock.recv(512)
        except OSError:
            return  # nothing has arrived (EAGAIN)
        if data:
            self._pending.extend(data)

    def any(self):
        _vboard.check_power()
        self._receive()
        return len(self._pending)

    def read(self, count=-1):
        self._receive()
        if not self._pending:
            return None
        if count < 0 or count > len(self._pending):
            count = len(self._pending)
        data = bytes(self._pending[:count])
        self._pending = self._pending[count:]
        return data

    def write(self, data):
        self._sock.setblocking(True)
        try:
            self._sock.write(data)
        finally:
            self._sock.setblocking(False)
        return len(data)

    def deinit(self):
        self._sock.close()


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.id = id
        self.role = _vboard.pin_role(id)
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None):
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.value(value)

    def value(self, value=None):
        if value is None:
            if self.role == "light_wake":
                return _vboard.comparator()
            return _vboard.outputs.get(self.id, 0)
        level = 1 if value else 0
        if _vboard.outputs.get(self.id) != level:
            for output in _vboard.audio_outputs:
                output.catch_up()
            _vboard.log("pin", gpio=self.id, role=self.role, value=level)
        _vboard.outputs[self.id] = level
        return None

    def __call__(self, value=None):
        return self.value(value)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin, *, atten=None):
        self.gpio = pin.id if isinstance(pin, Pin) else pin
        self.role = _vboard.pin_role(self.gpio)
        if self.role not in ("light_adc", "battery_adc"):
            raise ValueError("GPIO%d has no analog signal on the virtual board" % self.gpio)

    def atten(self, attenuation):
        pass

    def read_uv(self):
        if self.role == "light_adc":
            return _vboard.light_level() * _ADC_FULL_SCALE_UV // 65535
        inputs = _vboard.inputs()
        battery_mv = int(inputs.get("battery_mv", 3900))
        # The cell's voltage drops under the speaker's load while the
        # amplifier is on (inputs.json "speaker_sag_mv").
        if _vboard.outputs.get(_vboard.hardware()["pins"].get("amp_enable"), 0):
            battery_mv -= int(inputs.get("speaker_sag_mv", 0))
        return min(_ADC_FULL_SCALE_UV, battery_mv * 1000 // _vboard.hardware()["battery_divider"])

    def read_u16(self):
        if self.role == "light_adc":
            return _vboard.light_level()
        return self.read_uv() * 65535 // _ADC_FULL_SCALE_UV

    def read(self):
        return self.read_u16() >> 4


class RTC:
    # RTC user memory in rtc_memory.bin; the supervisor deletes it at power-on.
    _MEMORY_SIZE = 2048

    def memory(self, data=None):
        name = _vboard.path("rtc_memory.bin")
        if data is None:
            try:
                with open(name, "rb") as stream:
                    return stream.read()
            except OSError:
                return b""
        if len(data) > self._MEMORY_SIZE:
            raise ValueError("buffer too long")
        temporary = name + ".tmp"
        with open(temporary, "wb") as stream:
            stream.write(data)
        os.rename(temporary, name)
        return None


class I2S:
    # Transmit-only I2S with blocking writes, modelled on the ESP32 DMA: a
    # write returns once the samples fit in the ibuf-byte buffer, and the
    # buffer drains at the sample rate. What reaches the speaker goes to
    # audio.wav: silence while the buffer runs dry (underrun) or the amplifier
    # is off, and nothing of what is still queued at deinit().
    #
    # The queue is a preallocated ring buffer, so the simulation allocates
    # nothing per write on the firmware's heap.
    RX = 1
    TX = 2
    MONO = 0
    STEREO = 1
    _SLACK_BYTES = 4096  # ring space beyond ibuf for the write in progress

    def __init__(self, id, *, sck, ws, sd, mck=None, mode, bits, format, rate, ibuf):
        if mode != I2S.TX:
            raise ValueError("the virtual board has no I2S microphone: only I2S.TX")
        if bits not in (16, 32):
            raise ValueError("invalid bits: %r" % bits)
        channels = 1 if format == I2S.MONO else 2
        self._frame_bytes = bits // 8 * channels
        self._rate = rate
        self._ibuf = ibuf
        capacity = ibuf + self._SLACK_BYTES
        capacity -= capacity % self._frame_bytes
        self._ring = memoryview(bytearray(capacity))
        self._head = 0  # index of the oldest queued byte
        self._queued = 0
        self._play_us = _vboard.now_us()  # when the oldest queued byte plays
        self._wav = _vboard.WavWriter("audio.wav", rate, bits, channels)
        self._start_byte = self._wav.data_bytes
        self._written = 0
        self._amp_gpio = _vboard.hardware()["pins"].get("amp_enable")
        _vboard.audio_outputs.append(self)
        _vboard.log("i2s.init", bus=id, rate=rate, bits=bits, channels=channels, ibuf=ibuf)

    def _bytes_for_us(self, duration_us):
        return duration_us * self._rate // 1000000 * self._frame_bytes

    def _us_for_bytes(self, count):
        return count // self._frame_bytes * 1000000 // self._rate

    def _speaker(self, data):
        if _vboard.outputs.get(self._amp_gpio, 0):
            self._wav.write(data)
        else:
            self._wav.write_silence(len(data))

    def _enqueue(self, data):
        capacity = len(self._ring)
        tail = (self._head + self._queued) % capacity
        first = min(len(data), capacity - tail)
        self._ring[tail : tail + first] = data[:first]
        if first < len(data):
            self._ring[: len(data) - first] = data[first:]
        self._queued += len(data)

    def _play(self, count):
        capacity = len(self._ring)
        first = min(count, capacity - self._head)
        self._speaker(self._ring[self._head : self._head + first])
        if first < count:
            self._speaker(self._ring[: count - first])
        self._head = (self._head + count) % capacity
        self._queued -= count

    def catch_up(self):
        # Move what the DMA has played by now from the queue to the speaker.
        now = _vboard.now_us()
        played = min(self._queued, self._bytes_for_us(now - self._play_us))
        if played:
            self._play(played)
            self._play_us += self._us_for_bytes(played)
        if not self._queued and now > self._play_us:
            gap = self._bytes_for_us(now - self._play_us)
            if gap:
                self._wav.write_silence(gap)
                self._play_us += self._us_for_bytes(gap)

    def write(self, buf):
        _vboard.check_power()
        if self._wav is None:
            raise OSError("I2S is deinitialized")
        if not self._written:
            _vboard.log("i2s.first_write", bytes=len(buf))
        data = memoryview(buf)
        offset = 0
        while offset < len(data):
            self.catch_up()
            space = len(self._ring) - self._queued
            count = min(space, len(data) - offset)
            count -= count % self._frame_bytes
            if count <= 0:
                # The ring is full: wait for one frame to play.
                time.sleep_us(self._us_for_bytes(self._frame_bytes) + 1)
                continue
            self._enqueue(data[offset : offset + count])
            offset += count
        self._written += len(data)
        excess = self._queued - self._ibuf
        if excess > 0:
            time.sleep_us(self._us_for_bytes(excess))
            self.catch_up()
        return len(data)

    def deinit(self):
        if self._wav is None:
            return
        self.catch_up()
        _vboard.log(
            "i2s.deinit",
            start_byte=self._start_byte,
            played_bytes=self._wav.data_bytes - self._start_byte,
            dropped_bytes=self._queued,
        )
        self._queued = 0
        self._wav.close()
        self._wav = None
        _vboard.audio_outputs.remove(self)

    @staticmethod
    def shift(*, buf, bits, shift):
        if bits != 16:
            raise ValueError("the virtual board shifts 16-bit samples only")
        for index in range(0, len(buf) - 1, 2):
            sample = buf[index] | buf[index + 1] << 8
            if sample & 0x8000:
                sample -= 0x10000
            sample = sample << shift if shift > 0 else sample >> -shift
            sample = max(-32768, min(32767, sample)) & 0xFFFF
            buf[index] = sample & 0xFF
            buf[index + 1] = sample >> 8
