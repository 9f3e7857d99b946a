"""The board's MicroPython REPL, reached with mpremote's serial transport (raw REPL, raw-paste)."""

from __future__ import annotations

import json
from typing import Any, Self

from mpremote.transport import TransportError, TransportExecError  # type: ignore[import-untyped]
from mpremote.transport_serial import SerialTransport  # type: ignore[import-untyped]

from provisioning.errors import StationError

# Time the board gets to show the raw REPL prompt after Ctrl-C and Ctrl-A, in seconds.
ENTER_TIMEOUT_S = 8.0


class BoardRepl:
    """A raw REPL session on one board; the interpreter is soft-reset when it opens, unless soft_reset is False."""

    def __init__(self, port: str, enter_timeout_s: float = ENTER_TIMEOUT_S, *,
                 soft_reset: bool = True) -> None:
        self.port = port
        try:
            self.transport = SerialTransport(port, baudrate=115200)
        except TransportError as error:
            raise StationError("repl_silent", port=port, detail=str(error)) from None
        try:
            self.transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=enter_timeout_s)
        except TransportError as error:
            self.transport.close()
            raise StationError("repl_silent", port=port, detail=str(error) or "no raw REPL prompt") from None

    def run(self, code: str) -> str:
        """Execute code on the board and return what it printed."""
        try:
            return self.transport.exec(code).decode(errors="replace")
        except TransportExecError as error:
            lines = error.error_output.strip().splitlines()
            raise StationError("board_error", port=self.port,
                               detail=lines[-1][:200] if lines else "?") from None
        except TransportError as error:
            raise StationError("repl_silent", port=self.port, detail=str(error)) from None

    def evaluate(self, expression: str) -> Any:
        """Evaluate an expression on the board; its value travels as JSON."""
        output = self.run(f"import json as _json\nprint(_json.dumps({expression}))")
        return json.loads(output.strip().splitlines()[-1])

    def read_config(self) -> dict[str, Any] | None:
        """Return the board's config.json, or None when it has none or an unreadable one."""
        text = self.evaluate(
            "(lambda: (lambda f: (f.read(), f.close())[0])(open('config.json')))() "
            "if 'config.json' in __import__('os').listdir() else None"
        )
        if text is None:
            return None
        try:
            config = json.loads(text)
        except ValueError:
            return None
        return config if isinstance(config, dict) else None

    def read_state_files(self) -> dict[str, bytes]:
        """Return the firmware's own files (sequence numbers, journal) so a re-flash can keep them."""
        listing = self.evaluate(
            "[n for n in __import__('os').listdir() if n.startswith('seq.')] + "
            "['journal.d/' + n for n in (__import__('os').listdir('journal.d') "
            "if 'journal.d' in __import__('os').listdir() else [])]"
        )
        files = {}
        for name in listing:
            text = self.evaluate(
                f"__import__('binascii').hexlify(open({name!r}, 'rb').read()).decode()"
            )
            files[name] = bytes.fromhex(text)
        return files

    def write_file(self, name: str, data: bytes) -> None:
        self.run(f"with open({name!r}, 'wb') as _f:\n    _f.write({data!r})\n")

    def close(self) -> None:
        try:
            self.transport.exit_raw_repl()
        except (TransportError, OSError):
            pass
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
