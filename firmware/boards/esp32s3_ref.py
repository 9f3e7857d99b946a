# Pin map of the Ikki sticker reference board (ESP32-S3, revision A).
#
# Plain integer constants only: the virtual board reads this file from CPython
# with ast to wire its simulated hardware to the same GPIO numbers.
from micropython import const

# Phototransistor voltage, ADC1 channel 0. ADC2 is unusable while Wi-Fi runs.
LIGHT_ADC_PIN = const(1)
# Comparator output on the same phototransistor: high in light. RTC GPIO, so it
# can wake the chip from deep sleep (ext0).
LIGHT_WAKE_PIN = const(2)
# LiPo cell through a 100 kOhm / 100 kOhm divider, ADC1 channel 3.
BATTERY_ADC_PIN = const(4)
BATTERY_DIVIDER = const(2)
# MAX98357A class-D amplifier: I2S bit clock, word select, data.
I2S_ID = const(0)
I2S_SCK_PIN = const(5)
I2S_WS_PIN = const(6)
I2S_SD_PIN = const(7)
# Amplifier SD_MODE pin: low = shutdown (a few uA), high = on.
AMP_ENABLE_PIN = const(8)
# SIM7080G LTE-M modem on UART1 (its default pins on the ESP32-S3).
MODEM_UART_ID = const(1)
MODEM_TX_PIN = const(17)
MODEM_RX_PIN = const(18)
# The modem's PWRKEY through an NPN transistor: high pulls PWRKEY low (the key
# is pressed), low releases it. The base pull-down keeps the key released
# while the chip sleeps and its pins float.
MODEM_PWRKEY_PIN = const(16)
