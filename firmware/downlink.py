# The configuration downlink: a retained, signed and versioned JSON object on
# ikki/v1/stickers/<device id>/config, published by the backend. The device
# merges it into config.json, which takes effect from the next wake-up, and
# reports the outcome as an event: "config_applied" or "config_rejected"
# with the reason. A rejected configuration leaves config.json unchanged.
#
# Payload: {"cfg_v": <version, integer >= 1>, "sig": <hex HMAC-SHA256 of the
# canonical text of the other fields under the device key>, and any of the
# keys in DOWNLINK_KEYS}. Values are integers or strings only.
import json
import os

import config as config_module

DOWNLINK_KEYS = (
    "arm_delay_s",
    "cry_max_s",
    "cry_stop_dark_s",
    "volume",
    "heartbeat_s",
    "after_cry",
    "low_battery_mv",
    "uplink",
    "uplink_mode",
)
VERSION_KEY = "cfg_v"
_TEMPORARY = "config.tmp"


def config_topic(device_id):
    return "ikki/v1/stickers/%s/config" % device_id


def applied_version(path=config_module.CONFIG_FILE):
    try:
        with open(path) as stream:
            return json.loads(stream.read()).get(VERSION_KEY, 0)
    except (OSError, ValueError, AttributeError):
        return 0


def apply(payload, signer, path=config_module.CONFIG_FILE):
    # Check a downlink payload and merge it into config.json. Return
    # (outcome, version, reason): outcome "applied", "unchanged" (this
    # version or a newer one is already applied) or "rejected".
    try:
        fields = json.loads(payload)
    except ValueError:
        return "rejected", 0, "not valid JSON"
    if not isinstance(fields, dict):
        return "rejected", 0, "not a JSON object"
    version = fields.get(VERSION_KEY)
    if type(version) is not int or version < 1:
        return "rejected", 0, "cfg_v must be an integer from 1"
    sent = fields.pop("sig", None)
    try:
        expected = signer.signature(fields)
    except (TypeError, ValueError) as error:
        return "rejected", version, "invalid value: %s" % error
    if not isinstance(sent, str) or sent != expected:
        return "rejected", version, "bad signature"
    if version <= applied_version(path):
        return "unchanged", version, None

    with open(path) as stream:
        current = json.loads(stream.read())
    merged = dict(current)
    for name in fields:
        if name == VERSION_KEY:
            continue
        if name not in DOWNLINK_KEYS:
            return "rejected", version, "unknown key %s" % name
        merged[name] = fields[name]
    merged[VERSION_KEY] = version
    try:
        config_module.Config(merged)
    except config_module.ConfigError as error:
        return "rejected", version, str(error)

    # A power cut leaves the old or the new file, never half of one.
    with open(_TEMPORARY, "w") as stream:
        stream.write(json.dumps(merged))
    os.rename(_TEMPORARY, path)
    return "applied", version, None
