# Simulated network module of the virtual board: a Wi-Fi station that
# connects at once while the access point is up (inputs.json "wifi", true by
# default). Sockets are the host's real ones, so TCP reaches a real broker.
import _vboard

STA_IF = 0
AP_IF = 1

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201

# One station interface per chip, whatever the number of WLAN objects.
_station = {"active": False, "ssid": None}


class WLAN:
    def __init__(self, interface_id=STA_IF):
        if interface_id != STA_IF:
            raise ValueError("the virtual board simulates only the station interface (STA_IF)")

    def active(self, is_active=None):
        if is_active is None:
            return _station["active"]
        if bool(is_active) != _station["active"]:
            _vboard.log("wlan.active", active=bool(is_active))
        _station["active"] = bool(is_active)
        if not is_active:
            _station["ssid"] = None
        return _station["active"]

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not _station["active"]:
            raise OSError("Wifi Not Started")
        _station["ssid"] = ssid
        _vboard.log("wlan.connect", ssid=ssid, access_point=self._access_point_up())

    def disconnect(self):
        if _station["ssid"] is not None:
            _vboard.log("wlan.disconnect")
        _station["ssid"] = None

    @staticmethod
    def _access_point_up():
        return bool(_vboard.inputs().get("wifi", True))

    def isconnected(self):
        return _station["active"] and _station["ssid"] is not None and self._access_point_up()

    def status(self, param=None):
        if param == "rssi":
            return -55
        if param is not None:
            raise ValueError("unknown status parameter %r" % param)
        if not _station["active"] or _station["ssid"] is None:
            return STAT_IDLE
        return STAT_GOT_IP if self._access_point_up() else STAT_NO_AP_FOUND

    def ifconfig(self, config=None):
        if config is not None:
            raise ValueError("the virtual board's address is fixed")
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, name):
        if name == "mac":
            return b"\x02\x1c\x1d\x00\x00\x01"
        if name == "ssid":
            return _station["ssid"] or ""
        raise ValueError("unknown config parameter %r" % name)
