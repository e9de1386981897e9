"""Sizes and addresses as people write them in scenario files: ``2G``, ``512M``, ``0x1_0000_0000``."""
from __future__ import annotations

import re
from typing import overload

_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(0x[0-9a-fA-F_]+|\d[\d_]*)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)

GiB = 1 << 30
MiB = 1 << 20


def parse_size(value: int | str) -> int:
    """``"2G"`` → 2147483648; plain integers and hex strings are bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative: {value}")
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r} (write e.g. 512M, 2G or 0x40000000)")
    number = int(match.group(1).replace("_", ""), 0)
    return number * _SUFFIX[match.group(2).upper()]


def format_size(size: int) -> str:
    """The shortest exact binary-suffixed form: 2147483648 → ``2G``."""
    for suffix in ("T", "G", "M", "K"):
        unit = _SUFFIX[suffix]
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def hex_range(start: int, end: int) -> str:
    """A half-open range as the kernel prints it, inclusive: ``0x100000000-0x13fffffff``."""
    return f"{start:#x}-{end - 1:#x}"


@overload
def optional_hex(value: int | None) -> str | None: ...
@overload
def optional_hex(value: int | None, absent: str) -> str: ...
def optional_hex(value: int | None, absent: str | None = None) -> str | None:
    """An address that may be missing (a failed allocation, a node without one):
    ``0x1000``, else ``absent`` (None, i.e. JSON null, unless told)."""
    return absent if value is None else f"{value:#x}"
