from __future__ import annotations

import socket

import pytest

from backend.runtime import InvalidPort, PortUnavailable, check_port


def test_taken_port_names_port_and_setting():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(PortUnavailable) as raised:
            check_port("127.0.0.1", port, "the web server", "IKKI_PORT")

    assert str(port) in str(raised.value)
    assert "IKKI_PORT" in str(raised.value)


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_out_of_range_port_is_invalid(port: int):
    with pytest.raises(InvalidPort):
        check_port("127.0.0.1", port, "the web server", "IKKI_PORT")
