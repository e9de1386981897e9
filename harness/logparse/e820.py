"""e820 tables (arch/x86/kernel/e820.c:e820__print_table)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import HEX, Append, JsonMixin, LineKind, hex_int


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


def _e820_re(table: str) -> re.Pattern[str]:
    # BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable
    return re.compile(rf"^(?P<table>{table}): \[mem (?P<start>{HEX})-(?P<last>{HEX})\] (?P<type>\S.*?)\s*$")


def _e820(m: re.Match[str], line: int) -> E820Line:
    entry = E820Entry(hex_int(m["start"]), hex_int(m["last"]) + 1, m["type"])
    return E820Line(line, m["table"], entry)


# Each kind's pattern names its own table, so the kind alone says where the entry goes.
KINDS: tuple[LineKind[object], ...] = (
    LineKind("e820", "BIOS-e820:", _e820_re("BIOS-e820"), _e820, Append("e820", "entry")),
    LineKind("e820_modified", "modified: [mem", _e820_re("modified"), _e820, Append("e820_modified", "entry")),
    # e820__finish_early_params prints it for mem=/memmap=: memhp's boot-RAM DIMMs.
    LineKind("e820_user", "user: [mem", _e820_re("user"), _e820, Append("e820_user", "entry")),
)
