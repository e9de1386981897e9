"""Where user input meets the host: the one place memhp opens a path the user gave, loads
TOML, and checks a number or a name that will become a count or a path.

Files: regular files only, read within a bound.

A special file would hang (a FIFO), never end (``/dev/zero``), or be silently empty
(``/dev/null``); a directory or a symlink loop is an OSError deep in a parser.  Each kind
of file has a size that suits it, so a huge or endless file is refused before it is read.
Every refusal is one :class:`BadInputError` naming the path (exit 2).  ``-`` means standard
input where a kind allows it (a pipe is read up to the same bound).
"""
from __future__ import annotations

import math
import os
import re
import stat
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BadInputError

MiB = 1 << 20


@dataclass(frozen=True)
class FileKind:
    """What a file is to memhp (named in messages), its size bound, and whether ``-`` reads stdin."""

    what: str
    limit: int | None  # bytes; None: read by a library page by page (SQLite), not whole
    stdin: bool = False


# A scenario or matrix is a page of TOML; a boot log with memblock=debug of a big field
# machine is a few MiB (the kernel's ring buffer is at most 32 MiB, CONFIG_LOG_BUF_SHIFT
# <= 25), a console capture of a long run somewhat more; an acpidump of a whole machine a
# few MiB; a vmlinux with debug info under 1 GiB; a [[files]] file must fit the guest's RAM.
SCENARIO = FileKind("scenario", 1 * MiB)
MATRIX = FileKind("matrix file", 1 * MiB)
BOOT_LOG = FileKind("boot log", 128 * MiB, stdin=True)
ACPI_TABLE = FileKind("ACPI table", 16 * MiB)
SYMBOLS = FileKind("symbol file", 1024 * MiB)
GUEST_FILE = FileKind("[[files]] source", 64 * MiB)
DATABASE = FileKind("database", None)

# Deeper than this no memhp file nests (a scenario is 4 levels deep).  tomllib recurses per
# level: past Python's recursion limit its RecursionError is caught, below it this bound
# refuses the file, so no absurd depth reaches the validators (which recurse too).
MAX_TOML_DEPTH = 32


def _describe(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: Path | str, kind: FileKind, why: str) -> BadInputError:
    return BadInputError(f"{path}: {why} (expected a regular file as the {kind.what})")


def _too_big(path: Path | str, kind: FileKind, size: str) -> BadInputError:
    assert kind.limit is not None
    return BadInputError(f"{path}: {size}, but a {kind.what} is at most {kind.limit // MiB} MiB")


def check_file(path: Path, kind: FileKind) -> Path:
    """``path`` if it is a regular file within ``kind``'s bound (for a library that opens
    it by name), else one line of bad input naming it."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise _refuse(path, kind, f"cannot read: {err.strerror}") from None
    _check_stat(path, kind, info)
    return path


def _check_stat(path: Path | str, kind: FileKind, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, kind, _describe(info.st_mode))
    if kind.limit is not None and info.st_size > kind.limit:
        raise _too_big(path, kind, f"{info.st_size} bytes")


def read_bytes(path: Path | str, kind: FileKind) -> bytes:
    """The whole file, if it is a regular file (or ``-``, stdin, where ``kind`` allows)
    within ``kind``'s bound."""
    limit = kind.limit if kind.limit is not None else 1 << 62
    if str(path) == "-" and kind.stdin:
        try:
            data = sys.stdin.buffer.read(limit + 1)
        except OSError as err:
            raise _refuse(path, kind, f"cannot read: {err.strerror}") from None
        if len(data) > limit:
            raise _too_big(path, kind, f"more than {limit} bytes")
        return data
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just after).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise _refuse(path, kind, f"cannot read: {err.strerror}") from None
    try:
        _check_stat(path, kind, os.fstat(fd))
        os.set_blocking(fd, True)
        return _bounded(fd, path, kind, limit)
    finally:
        os.close(fd)


def _bounded(fd: int, path: Path | str, kind: FileKind, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a file that grew (or a pipe that goes on) past it is refused."""
    chunks, total = [], 0
    try:
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise _too_big(path, kind, f"more than {limit} bytes")
    except OSError as err:
        raise _refuse(path, kind, f"cannot read: {err.strerror}") from None
    return b"".join(chunks)


def write_output(path: Path, data: bytes, kind: FileKind) -> None:
    """Write a file the user named as output (``-o``): a regular file or a new one, else
    one line of bad input (a directory, a FIFO with no reader, a read-only folder)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, 0o666)
    except OSError as err:
        raise _refuse(path, kind, f"cannot write: {err.strerror}") from None
    try:
        _check_stat(path, FileKind(kind.what, None), os.fstat(fd))
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as err:
        raise _refuse(path, kind, f"cannot write: {err.strerror}") from None
    finally:
        os.close(fd)


def read_text(path: Path | str, kind: FileKind) -> str:
    """A UTF-8 text file (see :func:`read_bytes`); other bytes are one line naming the offset."""
    data = read_bytes(path, kind)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInputError(f"{path}: offset {err.start:#x}: not UTF-8 text") from None


def load_toml(path: Path, kind: FileKind) -> dict[str, Any]:
    """A TOML file as a dict: syntax errors, absurd nesting and non-files are one line each."""
    text = read_text(path, kind)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BadInputError(f"{path}: TOML syntax: {err}") from None
    except RecursionError:
        raise BadInputError(f"{path}: TOML nested too deeply (at most {MAX_TOML_DEPTH} levels)") from None
    if (depth := _depth(data)) > MAX_TOML_DEPTH:
        raise BadInputError(f"{path}: TOML nested {depth} levels deep (at most {MAX_TOML_DEPTH})")
    return data


def _depth(value: object) -> int:
    """Nesting depth of tables and arrays, without recursion (tomllib's output may be deep)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)
    return deepest


# ---- numbers and names --------------------------------------------------------------

def number(value: object, where: str, *, minimum: float = 0, maximum: float | None = None,
           integer: bool = False) -> float:
    """A finite number in ``[minimum, maximum]`` (TOML allows inf and nan; a bool is not a number)."""
    kind = "integer" if integer else "number"
    wanted = (f"a non-negative {kind}" if minimum == 0 else "a positive integer"
              if integer and minimum == 1 else f"a finite {kind} >= {minimum:g}")
    wanted += f" up to {maximum:g}" if maximum is not None else ""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (integer and not isinstance(value, int))
            or (isinstance(value, float) and not math.isfinite(value)) or value < minimum
            or (maximum is not None and value > maximum)):
        raise BadInputError(f"{where}: expected {wanted}, not {value!r}")
    return float(value)


# A name memhp turns into one folder or file name: no separator, no leading dot (no ``..``,
# no hidden file), short enough for every filesystem's NAME_MAX (255) with a suffix added.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+@-]{0,99}$")


def name(value: object, where: str) -> str:
    """A name that becomes one path component under a folder memhp chose."""
    if not isinstance(value, str) or not NAME.match(value):
        raise BadInputError(f"{where}: {value!r} is not a usable name (letters, digits and "
                            "_.+@- only, starting with a letter or digit, at most 100)")
    return value

