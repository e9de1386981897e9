"""The kernel's serial console (ttyS0): recorded byte for byte as it arrives, watched for panics.

One stream, two consumers: every chunk goes to ``console.log`` at once (so a crash of the
harness or the guest never loses what was said) and through a line watcher that flags a
panic and keeps the last lines as evidence.
"""
from __future__ import annotations

import re
import socket
import threading
from collections import deque
from pathlib import Path

PANIC = re.compile(rb"Kernel panic - not syncing[^\r\n]*")


class ConsoleRecorder:
    def __init__(self, conn: socket.socket, path: Path) -> None:
        self._conn = conn
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.path = path
        self.panic = threading.Event()
        self.panic_line: str | None = None
        self.closed = threading.Event()
        self._partial = b""
        self._tail: deque[str] = deque(maxlen=40)
        self._thread = threading.Thread(target=self._pump, name="memhp-console", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while True:
                try:
                    chunk = self._conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                self._file.write(chunk)
                self._file.flush()
                self._watch(chunk)
        finally:
            self._file.flush()
            self.closed.set()

    def _watch(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()[-4096:]
        for raw in lines:
            line = raw.rstrip(b"\r").decode(errors="replace")
            self._tail.append(line)
            match = PANIC.search(raw)
            if match and not self.panic.is_set():
                self.panic_line = match.group(0).decode(errors="replace").rstrip("\r")
                self.panic.set()

    def tail(self) -> list[str]:
        return list(self._tail)

    def wait_closed(self, timeout: float) -> bool:
        return self.closed.wait(timeout)

    def close(self) -> None:
        # After QEMU exits the socket drains to EOF quickly; only then cut it.
        self.closed.wait(2.0)
        try:
            self._conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._conn.close()
        self._thread.join(timeout=5)
        self._file.close()
