"""The kernel's serial console (ttyS0): QEMU writes it to ``console.log``; we watch it.

QEMU's file chardev writes every byte as the guest sends it, so the log is complete even if
the harness is slow or dies (a socket reader that falls behind makes QEMU drop bytes: seen
under load as lost characters in memblock lines). One stream, two consumers: the file is
the artifact, and this watcher follows it through logparse's line kinds, the same reading
``load_boot_log`` does, to flag a panic at once, keep the recognised lines for the actions'
evidence, and build the run's BootLog as the lines arrive (:meth:`ConsoleWatcher.boot_log`).
"""
from __future__ import annotations

import bisect
import threading
from pathlib import Path

from harness.logparse import BootLog
from harness.userinput import BOOT_LOG
from harness.logparse.failures import Panic
from harness.logparse.lines import check_text
from harness.logparse.parser import BootLogReader
from harness.logparse.reader import ConsoleLine, LineStream
from harness.logparse.setup_arch import KernelRelease

POLL_SECONDS = 0.05


class ConsoleWatcher:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.panic = threading.Event()
        self.panic_line: str | None = None
        self.kernel_release: str | None = None  # set once the kernel's banner was printed
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._offset = 0
        self._reading = BootLogReader()
        self._stream = LineStream(self._reading)
        self._closed = False  # the thread read the file to its end after the stop request
        self._boot_log: BootLog | None = None
        self._ended = False  # the stream's last line was read (boot_log: once)
        self._recognised: list[ConsoleLine] = []  # lines with at least one parsed item
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
        for line in self._stream.feed(chunk):
            if not line.items:
                continue
            self._recognised.append(line)
            if self.kernel_release is None:
                self.kernel_release = next(
                    (i.release for i in line.items if isinstance(i, KernelRelease)), None)
            panic = next((item for item in line.items if isinstance(item, Panic)), None)
            if panic is not None and not self.panic.is_set():
                self.panic_line = panic.text
                self.panic.set()

    def mark(self) -> int:
        """The number of console lines so far, after reading all QEMU has written."""
        self.catch_up()
        with self._lock:
            return self._stream.lines_read

    def since(self, mark: int) -> tuple[ConsoleLine, ...]:
        """The recognised lines after ``mark``, up to all QEMU has written; a line still
        being printed comes with the next call."""
        self.catch_up()
        with self._lock:
            first = bisect.bisect_right(self._recognised, mark, key=lambda line: line.number)
            return tuple(self._recognised[first:])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._closed = not self._thread.is_alive()

    def boot_log(self, source: str) -> BootLog | None:
        """The console as ``load_boot_log`` would parse the file (named ``source``), read
        once as QEMU wrote it: after :meth:`close`, QEMU gone.  None where this reading may
        differ from the file's (the watcher stopped early, the file is not what it read, a
        line longer than the stream keeps, a file beyond a boot log's size): read the file,
        which says what is wrong.  ParseError, as the file's, for binary data."""
        with self._lock:
            if self._boot_log is not None or self._ended:
                return self._boot_log
            stream, limit = self._stream, BOOT_LOG.limit
            if (not self._closed or stream.cut or (limit is not None and stream.bytes_read >= limit)
                    or not self.path.is_file() or self.path.stat().st_size != stream.bytes_read):
                return None
            self._ended = True
            stream.end()
            check_text(stream.head, source)
            self._boot_log = self._reading.finish(source)
            return self._boot_log
