"""e820 tables (arch/x86/kernel/e820.c:e820__print_table)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import HEX, JsonMixin, LineKind, hex_int


@dataclass(frozen=True)
class E820Entry(JsonMixin):
    """``struct e820_entry`` as printed; ``end`` is exclusive, ``type`` the printed name."""

    start: int
    end: int
    type: str


@dataclass(frozen=True)
class E820Line:
    """One printed entry and the table it belongs to (``BIOS-e820``, ``modified``, ``user``)."""

    line: int
    table: str
    entry: E820Entry


# BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable
E820_RE = re.compile(
    rf"^(?P<table>BIOS-e820|modified|user): \[mem (?P<start>{HEX})-(?P<last>{HEX})\] "
    r"(?P<type>\S.*?)\s*$"
)


def _e820(m: re.Match[str], line: int) -> E820Line:
    entry = E820Entry(hex_int(m["start"]), hex_int(m["last"]) + 1, m["type"])
    return E820Line(line, m["table"], entry)


KINDS: tuple[LineKind[object], ...] = (
    LineKind("e820", "BIOS-e820:", E820_RE, _e820),
    LineKind("e820_modified", "modified: [mem", E820_RE, _e820),
    LineKind("e820_user", "user: [mem", E820_RE, _e820),
)
