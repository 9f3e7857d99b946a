# Firmware version, sent as the "fw" field of every event.
FW_VERSION = "0.1.0"
