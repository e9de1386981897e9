"""e820 tables (arch/x86/kernel/e820.c:e820__print_table, e820_print_type).

Two print formats: up to 6.18 ``[mem a-b] usable`` / ``reserved``; from 7.2 ``[mem a-b]  System RAM``
/ ``device reserved`` (a leading space in the type name) with ``[gap a-b]`` lines between
entries. Both read into the same :class:`E820Type`, so no consumer compares printed names.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from harness.logparse.common import HEX, Append, JsonMixin, LineKind, hex_int


class E820Type(str, enum.Enum):
    """``enum e820_type`` as far as a printed name tells it."""

    RAM = "ram"
    RESERVED = "reserved"
    SOFT_RESERVED = "soft_reserved"
    ACPI = "acpi"
    NVS = "nvs"
    UNUSABLE = "unusable"
    PERSISTENT = "persistent"  # E820_TYPE_PMEM / E820_TYPE_PRAM
    OTHER = "other"  # "type %u": a value the kernel has no name for


# e820_print_type, 6.12 names then 7.3 names (PMEM/PRAM print their number after the name).
_NAMES = {"usable": E820Type.RAM, "System RAM": E820Type.RAM,
          "reserved": E820Type.RESERVED, "device reserved": E820Type.RESERVED,
          "soft reserved": E820Type.SOFT_RESERVED, "ACPI data": E820Type.ACPI,
          "ACPI NVS": E820Type.NVS, "unusable": E820Type.UNUSABLE}
_PERSISTENT = re.compile(r"^persistent(?: RAM)? \(type \d+\)$")


_TYPE = r"(?P<type>usable|System RAM|device reserved|reserved|soft reserved|ACPI data|ACPI NVS|unusable|" \
        r"persistent(?: RAM)? \(type \d+\)|type \d+)"


def e820_type(printed: str) -> E820Type:
    """The type a printed name (one ``_TYPE`` matched) means."""
    if printed in _NAMES:
        return _NAMES[printed]
    return E820Type.PERSISTENT if _PERSISTENT.match(printed) else E820Type.OTHER


@dataclass(frozen=True)
class E820Entry(JsonMixin):
    """``struct e820_entry`` as printed; ``end`` is exclusive, ``name`` the printed type."""

    start: int
    end: int
    type: E820Type
    name: str

    @property
    def is_ram(self) -> bool:
        return self.type is E820Type.RAM


@dataclass(frozen=True)
class E820Line:
    """One printed entry and the table it belongs to (``BIOS-e820``, ``modified``, ``user``)."""

    line: int
    table: str
    entry: E820Entry


@dataclass(frozen=True)
class E820Gap(JsonMixin):
    """``BIOS-e820: [gap a-b]`` (7.2 on): a hole between two entries of a table."""

    line: int
    table: str
    start: int
    end: int


def _e820_re(table: str) -> re.Pattern[str]:
    # BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable        (up to 6.18)
    # BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff]  System RAM   (7.2 on)
    return re.compile(rf"^(?P<table>{table}): \[mem (?P<start>{HEX})-(?P<last>{HEX})\]  ?{_TYPE}\s*$")


def _gap_re(table: str) -> re.Pattern[str]:
    return re.compile(rf"^(?P<table>{table}): \[gap (?P<start>{HEX})-(?P<last>{HEX})\]\s*$")


def _e820(m: re.Match[str], line: int) -> E820Line:
    entry = E820Entry(hex_int(m["start"]), hex_int(m["last"]) + 1, e820_type(m["type"]), m["type"])
    return E820Line(line, m["table"], entry)


def _gap(m: re.Match[str], line: int) -> E820Gap:
    return E820Gap(line, m["table"], hex_int(m["start"]), hex_int(m["last"]) + 1)


# Each kind's pattern names its own table, so the kind alone says where the entry goes.
KINDS: tuple[LineKind[object], ...] = (
    LineKind("e820", "BIOS-e820: [mem", _e820_re("BIOS-e820"), _e820, Append("e820", "entry")),
    LineKind("e820_modified", "modified: [mem", _e820_re("modified"), _e820, Append("e820_modified", "entry")),
    # e820__finish_early_params prints it for mem=/memmap=: memhp's boot-RAM DIMMs.
    LineKind("e820_user", "user: [mem", _e820_re("user"), _e820, Append("e820_user", "entry")),
    LineKind("e820_gap", ": [gap ", _gap_re("BIOS-e820|modified|user"), _gap, Append("e820_gaps")),
)
