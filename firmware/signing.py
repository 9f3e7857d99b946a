# HMAC-SHA256 (RFC 2104) on hashlib.sha256, because MicroPython has no hmac
# module, and the canonical JSON text that event signatures cover.
import binascii
import hashlib

from micropython import const

_BLOCK_SIZE = const(64)  # SHA-256 block size in bytes
_IPAD = const(0x36)
_OPAD = const(0x5C)

# JSON short escapes, as CPython's json.dumps writes them.
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


class Hmac:
    # HMAC-SHA256 under one key. The padded keys are computed once, so signing
    # an event allocates only the two hash objects.

    def __init__(self, key):
        if len(key) > _BLOCK_SIZE:
            key = hashlib.sha256(key).digest()
        inner = bytearray(_BLOCK_SIZE)
        outer = bytearray(_BLOCK_SIZE)
        for i in range(_BLOCK_SIZE):
            byte = key[i] if i < len(key) else 0
            inner[i] = byte ^ _IPAD
            outer[i] = byte ^ _OPAD
        self._inner_pad = bytes(inner)
        self._outer_pad = bytes(outer)

    def digest(self, message):
        inner = hashlib.sha256(self._inner_pad)
        inner.update(message)
        outer = hashlib.sha256(self._outer_pad)
        outer.update(inner.digest())
        return outer.digest()

    def hexdigest(self, message):
        return binascii.hexlify(self.digest(message)).decode()


def hmac_sha256(key, message):
    return Hmac(key).digest(message)


def mqtt_password(key):
    # MQTT password: the first 32 lowercase hex characters of
    # HMAC-SHA256(key, b"mqtt-password"). The backend derives the same.
    return Hmac(key).hexdigest(b"mqtt-password")[:32]


def _json_string(text):
    # Encode an ASCII string exactly as CPython's json.dumps does
    # (ensure_ascii=True): short escapes, and \u00XX for the other control
    # characters and DEL (0x7F).
    plain = True
    for char in text:
        code = ord(char)
        if code > 0x7E or code < 0x20 or char == '"' or char == "\\":
            plain = False
            break
    if plain:
        return '"' + text + '"'

    parts = ['"']
    for char in text:
        code = ord(char)
        if code > 0x7F:
            raise ValueError("event text must be ASCII: %r" % text)
        if char in _SHORT_ESCAPES:
            parts.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            parts.append("\\u%04x" % code)
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def canonical_json(fields):
    # Return the canonical text of a flat object of str keys and int or str
    # values: keys sorted, no spaces, byte-identical to CPython's
    # json.dumps(fields, sort_keys=True, separators=(",", ":")).
    # MicroPython's json.dumps keeps insertion order and writes non-ASCII raw,
    # so the text is built here.
    parts = []
    for name in sorted(fields):
        if not isinstance(name, str):
            raise TypeError("event field names must be strings: %r" % (name,))
        value = fields[name]
        if type(value) is bool:
            raise TypeError("event field %s must be int or str, not bool" % name)
        if isinstance(value, int):
            encoded = str(value)
        elif isinstance(value, str):
            encoded = _json_string(value)
        else:
            raise TypeError("event field %s must be int or str: %r" % (name, value))
        parts.append(_json_string(name) + ":" + encoded)
    return "{" + ",".join(parts) + "}"


class Signer:
    # Signs event fields with the device key: "sig" is the lowercase hex
    # HMAC-SHA256 of the canonical text of all the other fields.

    def __init__(self, key):
        self._hmac = Hmac(key)

    def signature(self, fields):
        return self._hmac.hexdigest(canonical_json(fields).encode())

    def payload(self, fields):
        # Return the signed payload bytes: the canonical text of the fields
        # plus "sig". The caller's dict is left without "sig".
        if "sig" in fields:
            raise ValueError("fields already contain sig")
        fields["sig"] = self.signature(fields)
        try:
            return canonical_json(fields).encode()
        finally:
            del fields["sig"]
