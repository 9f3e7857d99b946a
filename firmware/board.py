# The only module that touches hardware: light sensor, I2S audio and its
# amplifier, battery, deep sleep and wake-up, RTC memory, the network and the
# LTE-M modem's UART and PWRKEY.
# On the virtual board, machine, network and esp32 are simulated modules with
# the same interface, so the application files run unchanged.
import json
import os
import socket
import time

import esp32
import machine
import network
from micropython import const

DEFAULT_PINMAP = "esp32s3_ref"
_RTC_MEMORY_SIZE = const(2048)  # RTC user memory on the ESP32 port, in bytes
# Socket option numbers (Linux and lwIP agree); MicroPython names neither.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)

_RESET_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "hard",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deepsleep",
    machine.SOFT_RESET: "soft",
}
_WAKE_REASONS = {
    0: "none",  # no deep-sleep wake-up: power-on or another reset
    machine.PIN_WAKE: "pin",
    machine.TIMER_WAKE: "timer",
}


def load_pinmap(name):
    package = __import__("boards." + name)
    return getattr(package, name)


class Board:
    def __init__(self, pinmap_name=DEFAULT_PINMAP):
        # Uptime counts from here: the firmware's first statement after reset.
        self._uptime_ms = 0
        self._last_ticks = time.ticks_ms()

        self.pinmap_name = pinmap_name
        pins = load_pinmap(pinmap_name)
        self.pins = pins
        self._light_adc = machine.ADC(machine.Pin(pins.LIGHT_ADC_PIN), atten=machine.ADC.ATTN_11DB)
        self._light_pin = machine.Pin(pins.LIGHT_WAKE_PIN, machine.Pin.IN)
        self._battery_adc = machine.ADC(
            machine.Pin(pins.BATTERY_ADC_PIN), atten=machine.ADC.ATTN_11DB
        )
        self._amp = machine.Pin(pins.AMP_ENABLE_PIN, machine.Pin.OUT, value=0)
        # Released at every boot, so that the modem's power key is never held.
        self._modem_pwrkey = machine.Pin(pins.MODEM_PWRKEY_PIN, machine.Pin.OUT, value=0)
        self._i2s = None
        self._wlan = None
        self._rtc = machine.RTC()
        self._watchdog = None
        self.retained = self._load_retained()

    # Time

    def uptime_ms(self):
        # Milliseconds since the Board was created. ticks_ms wraps after about
        # 12 days (2**30 ms), so the sum stays right only while this is called
        # at least every 6 days. The main loops call it every few ms.
        now = time.ticks_ms()
        self._uptime_ms += time.ticks_diff(now, self._last_ticks)
        self._last_ticks = now
        return self._uptime_ms

    def rtc_ms(self):
        # RTC time in milliseconds. The RTC keeps running in deep sleep and
        # restarts from zero at power-on; its slow clock may drift by a few %.
        return time.time_ns() // 1000000

    def sleep_ms(self, duration_ms):
        time.sleep_ms(duration_ms)

    def random_u32(self):
        data = os.urandom(4)
        return data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]

    # Light sensor

    def light_level(self):
        # Phototransistor level, 0 (dark) to 65535.
        return self._light_adc.read_u16()

    def light_pin(self):
        # Comparator output: 1 in light. The same signal wakes the chip.
        return self._light_pin.value()

    # Battery

    def battery_mv(self):
        return self._battery_adc.read_uv() * self.pins.BATTERY_DIVIDER // 1000

    # Audio

    def audio_start(self, rate, bits, buffer_bytes):
        # Start I2S (DMA outputs silence until samples arrive), then switch the
        # amplifier on, which avoids a click.
        self._i2s = machine.I2S(
            self.pins.I2S_ID,
            sck=machine.Pin(self.pins.I2S_SCK_PIN),
            ws=machine.Pin(self.pins.I2S_WS_PIN),
            sd=machine.Pin(self.pins.I2S_SD_PIN),
            mode=machine.I2S.TX,
            bits=bits,
            format=machine.I2S.MONO,
            rate=rate,
            ibuf=buffer_bytes,
        )
        self._amp.value(1)

    def audio_write(self, samples):
        # Queue samples for DMA. Blocks only until they fit in the I2S buffer.
        if self._i2s is None:
            raise OSError("I2S is not started: call audio_start() first")
        return self._i2s.write(samples)

    def audio_shift(self, samples, shift):
        # Scale 16-bit samples in place by 2**shift (6 dB a step).
        machine.I2S.shift(buf=samples, bits=16, shift=shift)

    def audio_stop(self):
        self._amp.value(0)
        if self._i2s is not None:
            self._i2s.deinit()
            self._i2s = None

    # Reset, wake-up and deep sleep

    def reset_cause(self):
        return _RESET_CAUSES.get(machine.reset_cause(), "other")

    def wake_reason(self):
        return _WAKE_REASONS.get(machine.wake_reason(), "other")

    def deep_sleep(self, wake_on_light=None, timer_ms=0):
        # Sleep until the light pin goes high (wake_on_light=True), goes low
        # (False), or the timer runs out. Never returns: the chip wakes up
        # through a reset.
        self.audio_stop()
        self.wifi_stop()
        if wake_on_light is None:
            esp32.wake_on_ext0(None, esp32.WAKEUP_ANY_HIGH)
        else:
            level = esp32.WAKEUP_ANY_HIGH if wake_on_light else esp32.WAKEUP_ALL_LOW
            esp32.wake_on_ext0(self._light_pin, level)
        if timer_ms > 0:
            machine.deepsleep(timer_ms)
        machine.deepsleep()

    def reset(self):
        machine.reset()

    # Watchdog: once started it cannot be stopped; deep sleep resets it.

    def watchdog_start(self, timeout_ms):
        if self._watchdog is None:
            self._watchdog = machine.WDT(id=0, timeout=timeout_ms)

    def watchdog_feed(self):
        if self._watchdog is not None:
            self._watchdog.feed()

    # RTC memory: kept in deep sleep, lost at power-on

    def _load_retained(self):
        if self.reset_cause() in ("power_on", "hard"):
            # RTC memory does not survive a power cut or a chip reset.
            return {}
        data = self._rtc.memory()
        if not data:
            return {}
        try:
            retained = json.loads(data)
        except ValueError:
            return {}
        return retained if isinstance(retained, dict) else {}

    def save_retained(self):
        data = json.dumps(self.retained).encode()
        if len(data) > _RTC_MEMORY_SIZE:
            raise ValueError("retained state of %d bytes does not fit RTC memory" % len(data))
        self._rtc.memory(data)

    def set_state(self, state, reason):
        # Publish the firmware state where tools can read it: in RTC memory, as
        # keys "st" and "why", read by the virtual board and over the REPL.
        self.retained["st"] = state
        self.retained["why"] = reason
        self.retained["at"] = self.uptime_ms()
        self.save_retained()

    # Network

    def wifi_start(self, ssid, password):
        if self._wlan is None:
            self._wlan = network.WLAN(network.STA_IF)
        self._wlan.active(True)
        if not self._wlan.isconnected():
            self._wlan.connect(ssid, password)

    def wifi_connected(self):
        return self._wlan is not None and self._wlan.isconnected()

    def modem_uart(self):
        # UART to the SIM7080G LTE-M modem (8 data bits, no parity, 1 stop bit).
        pins = self.pins
        return machine.UART(
            pins.MODEM_UART_ID,
            baudrate=115200,
            tx=pins.MODEM_TX_PIN,
            rx=pins.MODEM_RX_PIN,
        )

    def modem_power_key(self, duration_ms):
        # Hold the modem's PWRKEY down for duration_ms, then release it. The
        # modem switches on or off depending on its state and the press length
        # (modem.py has the times). Blocks for duration_ms.
        self._modem_pwrkey.value(1)
        try:
            time.sleep_ms(duration_ms)
        finally:
            self._modem_pwrkey.value(0)

    def signal_dbm(self):
        # Received signal strength of the current Wi-Fi connection in dBm,
        # 0 when not connected.
        wlan = self._wlan
        if wlan is None or not wlan.isconnected():
            return 0
        try:
            return int(wlan.status("rssi"))
        except (OSError, ValueError, TypeError):
            return 0

    def wifi_stop(self):
        if self._wlan is not None:
            self._wlan.active(False)
            self._wlan = None

    def tcp_connect(self, host, port, timeout_ms):
        # NOTE: getaddrinfo has no timeout in MicroPython; a host name that
        # needs DNS can block longer than timeout_ms. The watchdog resets a
        # sticker that it blocks for good.
        address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
        sock = socket.socket()
        try:
            sock.settimeout(timeout_ms / 1000)
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        try:
            # MQTT sends small packets back to back; without TCP_NODELAY the
            # second waits for the broker's delayed ACK (about 40 ms).
            sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except OSError:
            pass
        return sock
