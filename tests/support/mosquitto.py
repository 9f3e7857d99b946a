"""A Mosquitto started by a test on free ports, with ikki's password and ACL files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.settings import Settings
from backend.devices.mosquitto import write_mosquitto_config
from tests.conftest import free_port


class MosquittoServer:
    """A Mosquitto started by the test on a free port, with ikki's password and ACL files."""

    def __init__(self, executable: str, directory: Path, settings: Settings) -> None:
        self.executable = executable
        self.directory = directory
        self.settings = settings
        # The backend's listener; stickers connect on device_port.
        self.port = free_port()
        self.device_port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = directory / "mosquitto.log"

    def write_config(self) -> None:
        # Started as root, Mosquitto would switch to the user "mosquitto", which cannot read
        # the password file (mode 0600) written by this process.
        run_as = "root" if os.geteuid() == 0 else None
        with session_scope(core_db.get_engine(self.settings.database_url)) as session:
            write_mosquitto_config(session, self.directory, self.settings, host="127.0.0.1",
                                   port=self.port, device_port=self.device_port, run_as=run_as)

    def start(self) -> None:
        self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([self.executable, "-c", str(self.directory / "mosquitto.conf")],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()}")
            try:
                for port in (self.port, self.device_port):
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        pass
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log_path.read_text()}")

    def reload(self) -> None:
        """Rewrite the files and make Mosquitto read them again (SIGHUP)."""
        assert self.process is not None
        self.write_config()
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
