# Pin map of an ESP32-S3-DevKitC-1 wired to the sticker breakout board
# (development only: the DevKitC's USB bridge and LED draw too much for a cell).
#
# Plain integer constants only: the virtual board reads this file from CPython
# with ast to wire its simulated hardware to the same GPIO numbers.
from micropython import const

LIGHT_ADC_PIN = const(9)
LIGHT_WAKE_PIN = const(10)
BATTERY_ADC_PIN = const(8)
BATTERY_DIVIDER = const(2)
I2S_ID = const(0)
I2S_SCK_PIN = const(12)
I2S_WS_PIN = const(13)
I2S_SD_PIN = const(14)
AMP_ENABLE_PIN = const(11)
# SIM7080G LTE-M modem on UART1 (its default pins on the ESP32-S3).
MODEM_UART_ID = const(1)
MODEM_TX_PIN = const(17)
MODEM_RX_PIN = const(18)
# The modem's PWRKEY through an NPN transistor: high pulls PWRKEY low (the key
# is pressed), low releases it. The base pull-down keeps the key released
# while the chip sleeps and its pins float.
MODEM_PWRKEY_PIN = const(16)
