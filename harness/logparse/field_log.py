"""A user's log file, in whatever form it was pasted, → one boot's :class:`BootLog`.

The one reader behind ``memhp parse``, ``replay``, ``import`` and ``field-compare``: the
file (or standard input, ``-``) is opened in :func:`read_log_bytes` only, decompressed
when its first bytes say gzip, xz or zstd (whatever its name), read through its form
(:mod:`harness.logparse.forms`), split into boots (:mod:`harness.logparse.boots`), and
the chosen boot (the last, or ``--boot N``) parsed as plain dmesg at the file's line
numbers.
"""
from __future__ import annotations

import gzip
import io
import lzma
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zstandard

from harness.errors import BadInputError, ParseError
from harness.logparse.bootlog import BootLog
from harness.logparse.boots import Boot, split_boots
from harness.logparse.forms import Reading, read_kernel_lines
from harness.logparse.lines import decode_log
from harness.logparse.parser import parse_boot_log
from harness.userinput import BOOT_LOG, read_bytes

# The most a log may be decompressed, the bound of the file itself: a small file that
# inflates past it is a decompression bomb, not a log.
MAX_LOG_BYTES: int = BOOT_LOG.limit or 0

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def read_log_bytes(path: Path) -> bytes:
    """The bytes of a user's log (``-`` is standard input), through memhp's one opener of
    user paths: a regular file within the boot log's bound, else one line, exit 2."""
    return read_bytes(path, BOOT_LOG)


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count} bytes"


def decompress(data: bytes, where: str) -> tuple[bytes, str | None]:
    """``data`` inflated if its magic says gzip, xz or zstd (and which), at most MAX_LOG_BYTES out
    (each reader's ``read(n)`` inflates no more than ``n``, so a bomb costs no memory)."""
    kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    if kind is None:
        return data, None
    try:
        with _reader(kind, io.BytesIO(data)) as f:
            out = f.read(MAX_LOG_BYTES + 1)
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as err:
        raise ParseError(where, f"corrupt {kind} data: {err}") from None
    if len(out) > MAX_LOG_BYTES:
        raise ParseError(where, f"{kind} data inflates to more than {_size(MAX_LOG_BYTES)}: "
                                "a decompression bomb, not a boot log")
    return out, f"{kind}-compressed"


def _utf8(data: bytes) -> tuple[bytes, str | None]:
    """A file saved by a Windows editor: UTF-16 with its byte-order mark, or UTF-8 with
    one, → plain UTF-8 (UTF-16's NUL bytes would read as binary data)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace").encode(), "UTF-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], None
    return data, None


def _reader(kind: str, raw: io.BytesIO) -> io.BufferedIOBase | zstandard.ZstdDecompressionReader:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)  # every member, as zcat reads them
    if kind == "xz":
        return lzma.LZMAFile(raw)
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


@dataclass(frozen=True)
class FieldLog:
    """A pasted log as read: its form, its boots, and the boot chosen to judge."""

    source: str
    wrapping: str | None  # what the bytes came in: "gzip-compressed", "UTF-16"
    reading: Reading
    boots: tuple[Boot, ...]
    chosen: Boot

    @property
    def read_as(self) -> str:
        return self.reading.read_as + (f", {self.wrapping}" if self.wrapping else "")

    def text(self) -> str:
        return self.chosen.text(self.reading.line_count, self.reading.terminated)

    def describe(self) -> list[str]:
        lines = [f"read as: {self.read_as}"]
        if len(self.boots) > 1:
            lines.append(f"{len(self.boots)} boots in the file; judging boot {self.chosen.number} "
                         f"(--boot N picks another):")
            lines += [f"  {'*' if b is self.chosen else ' '} {b.describe()}" for b in self.boots]
        return lines

    def to_json(self) -> dict[str, object]:
        return {"read_as": self.read_as, "boot": self.chosen.number,
                "boots": [{"number": b.number, "first_line": b.first_line, "last_line": b.last_line,
                           "release": b.release} for b in self.boots]}


def read_field_log(path: Path, boot: int | None = None) -> FieldLog:
    """Open, inflate, decode and read ``path``; ``boot`` is 1-based (default: the last)."""
    where = str(path)
    data, compressed = decompress(read_log_bytes(path), where)
    data, encoding = _utf8(data)
    reading = read_kernel_lines(decode_log(data, where))
    boots = split_boots(reading)
    if not boots:
        raise ParseError(where, "no kernel lines at all: not a boot log")
    if boot is None:
        chosen = boots[-1]
    elif 1 <= boot <= len(boots):
        chosen = boots[boot - 1]
    else:
        raise BadInputError(f"{where}: --boot {boot}: the file has {len(boots)} boot"
                            f"{'s' * (len(boots) > 1)} (1-{len(boots)})")
    return FieldLog(where, ", ".join(filter(None, (encoding, compressed))) or None, reading, boots, chosen)


def load_field_boot_log(path: Path, boot: int | None = None,
                        transform: Callable[[str], str] | None = None) -> tuple[FieldLog, BootLog]:
    """The chosen boot of ``path`` parsed; ``transform`` rewrites its plain text first
    (``--symbols``).  A file with no boot-log line at all is bad input."""
    field = read_field_log(path, boot)
    text = field.text()
    if transform is not None:
        text = transform(text)
    log = parse_boot_log(text, field.source)
    if not (log.kernel_release or log.e820 or log.srat_memory or log.memblock_ops or log.zone_ranges
            or log.early_node_ranges):
        raise ParseError(field.source, f"boot {field.chosen.number}: no Linux boot log lines found (no "
                                       "'Linux version', e820, SRAT, zone or memblock lines)")
    return field, log
