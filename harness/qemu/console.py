"""The kernel's serial console (ttyS0): QEMU writes it to ``console.log``; we watch it.

QEMU's file chardev writes every byte as the guest sends it, so the log is complete even if
the harness is slow or dies (a socket reader that falls behind makes QEMU drop bytes: seen
under load as lost characters in memblock lines). One stream, two consumers: the file is
the artifact, and this watcher follows it to flag a panic.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

PANIC = re.compile(rb"Kernel panic - not syncing[^\r\n]*")
POLL_SECONDS = 0.05


class ConsoleWatcher:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.panic = threading.Event()
        self.panic_line: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._offset = 0
        self._partial = b""
        self._thread = threading.Thread(target=self._follow, name="memhp-console", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while True:
            stopping = self._stop.is_set()  # read once more after the stop request
            self.catch_up()
            if stopping:
                return
            self._stop.wait(POLL_SECONDS)

    def catch_up(self) -> None:
        """Read what QEMU wrote since the last look (also called when the guest went away,
        so a panic printed just before QEMU exited is never missed)."""
        with self._lock:
            if not self.path.exists():
                return
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
            self._offset += len(chunk)
            if chunk:
                self._watch(chunk)

    def _watch(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()[-4096:]
        for raw in lines:
            match = PANIC.search(raw)
            if match and not self.panic.is_set():
                self.panic_line = match.group(0).decode(errors="replace").rstrip("\r")
                self.panic.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
