"""Console lines through the line kinds, one physical line at a time.

The same reading serves both consumers of the console: :func:`parse_boot_log` folds a whole
capture into a BootLog, and :class:`LineStream` parses the bytes QEMU writes while the guest
runs (the console watcher's panic, an action's evidence), so both see the same lines.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.logparse import acpi, e820, failures, meminit, memblock_dump, numa, oom, setup_arch, virtio_mem, zones
from harness.logparse import memblock_debug as memblock_ops
from harness.logparse.common import LineKind
from harness.logparse.lines import SAMPLE, line_messages
from harness.logparse.zones import SectionStart

# Order matters only where triggers overlap: the first kind whose trigger is in the
# message owns it (a panic first, then memblock lines before everything that might appear
# in a caller name).
KINDS: tuple[LineKind[object], ...] = (
    failures.PANIC_KIND,
    *memblock_ops.KINDS,
    *memblock_dump.KINDS,
    *e820.KINDS,
    *acpi.KINDS,
    *numa.KINDS,
    *zones.KINDS,
    *meminit.KINDS,
    *oom.KINDS,
    *setup_arch.KINDS,
    *virtio_mem.KINDS,
    *failures.KINDS,
)

Parsed = tuple[LineKind[object], object]


class LineReader:
    """Dispatch each message to the first line kind whose trigger it contains.

    Keeps what spans lines: the open section (indented lines under ``Zone ranges:``) and
    the count of lines a trigger claimed but could not take as a fact: the pattern did
    not match (garbled), or the line is unterminated (see :meth:`read`).
    """

    EXAMPLES = 5  # suspicious lines kept as text, to show what a changed format looks like

    def __init__(self) -> None:
        self.section: str | None = None
        self.suspicious = 0
        self.examples: list[str] = []

    def read(self, number: int, raw: str, *, terminated: bool = True) -> list[Parsed]:
        """What the kinds make of one physical line (``raw`` without its ``\\n``), in order;
        a message printed without ``\\n`` may carry the next one glued on.

        Only the newline proves a line complete: an unterminated last line (a serial cut,
        a field excerpt) may end inside a number (``  Node 2: 0x0`` of
        ``0x0000000100000000``) or a caller name, so it states nothing and, if a kind
        claimed it, counts as suspicious."""
        out: list[Parsed] = []
        claimed = self.suspicious
        for _, message in line_messages(number, raw):
            while message.strip():
                parsed = self._dispatch(number, message)
                if parsed is None:
                    break
                kind, item, message = parsed
                if isinstance(item, SectionStart):
                    self.section = item.name
                out.append((kind, item))
        if terminated:
            self._note(number, raw, claimed)
            return out
        if out or self.suspicious > claimed:
            self.suspicious = claimed + 1
            self._note(number, raw, claimed)
        return []

    def _note(self, number: int, raw: str, claimed: int) -> None:
        if self.suspicious > claimed and len(self.examples) < self.EXAMPLES:
            self.examples.append(f"line {number}: {raw.strip()[:200]}")

    def _dispatch(self, number: int, message: str) -> tuple[LineKind[object], object, str] | None:
        garbled = False  # a section kind's trigger matched, its pattern did not
        if self.section is not None:
            for kind in zones.SECTION_KINDS[self.section]:
                if kind.trigger in message:
                    if parsed := kind.parse(message, number):
                        return kind, *parsed
                    garbled = True
            self.section = None
        for kind in KINDS:
            if kind.trigger in message:
                parsed = kind.parse(message, number)
                if parsed is None:
                    self.suspicious += 1
                    return None
                return kind, *parsed
        self.suspicious += garbled
        return None


@dataclass(frozen=True)
class ConsoleLine:
    """One physical line of the console as printed (``\\r`` dropped) and its parsed items."""

    number: int
    text: str
    items: tuple[object, ...]


# A line this long is noise, not kernel messages (a record is at most 1 KiB: 6.1
# kernel/printk/printk.c LOG_LINE_MAX, 6.12 kernel/printk/internal.h PRINTKRB_RECORD_MAX):
# only its end is kept, so that memory stays bounded whatever the guest prints.
MAX_LINE_BYTES = 1 << 16


class LineStream:
    """Console bytes in as they arrive, complete lines out: read like ``decode_log`` and
    ``parse_boot_log`` read the whole file (UTF-8, stray bytes as U+FFFD; the same line
    numbers and kinds)."""

    def __init__(self, reader: LineReader | None = None) -> None:
        self._reader = reader or LineReader()
        self._partial = b""
        self.lines_read = 0
        self.bytes_read = 0
        self.cut = False  # a line outgrew MAX_LINE_BYTES: its head was dropped, unlike the file's
        self.head = ""  # the text's start, as check_text samples it

    def feed(self, chunk: bytes) -> list[ConsoleLine]:
        self.bytes_read += len(chunk)
        *complete, partial = (self._partial + chunk).split(b"\n")
        self.cut = self.cut or len(partial) > MAX_LINE_BYTES
        self._partial = partial[-MAX_LINE_BYTES:]
        out = []
        for data in complete:
            self.lines_read += 1
            # "\n" never occurs inside a UTF-8 sequence: decoding per line equals decoding the file.
            raw = data.decode("utf-8", errors="replace")
            self._sample(raw + "\n")
            parsed = self._reader.read(self.lines_read, raw)
            out.append(ConsoleLine(self.lines_read, raw.replace("\r", ""), tuple(item for _, item in parsed)))
        return out

    def end(self) -> None:
        """No more bytes: the unterminated rest is the last line, read as parse_boot_log reads
        a text's last line (it may be cut inside a number)."""
        raw = self._partial.decode("utf-8", errors="replace")
        self._sample(raw)
        self._reader.read(self.lines_read + 1, raw, terminated=False)
        self._partial = b""

    def _sample(self, text: str) -> None:
        if len(self.head) < SAMPLE:
            self.head = (self.head + text)[:SAMPLE]
