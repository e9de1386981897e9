"""Read a table from whatever file a person has, and print SRAT/SLIT for people.

Accepted inputs: a binary table (``acpidump -b``, a copy of
``/sys/firmware/acpi/tables/SRAT``), the text output of ``acpidump``, and iasl
data-table source (``.dsl``/``.asl``, compiled with iasl).
"""
from __future__ import annotations

import re
from pathlib import Path

from harness.errors import BadInputError, ParseError
from harness.units import hex_range
from harness.userinput import ACPI_TABLE, read_bytes

from .iasl import compile_data_table
from .slit import Slit
from .srat import (
    GenericInitiatorAffinity,
    MemoryAffinity,
    ProcessorLocalApicAffinity,
    RawSubtable,
    Srat,
    Subtable,
    X2ApicAffinity,
)

_DUMP_TITLE = re.compile(r"^\s*([A-Z0-9_!]{4}) @ 0x[0-9A-Fa-f]+\s*$")
# acpidump prints "%8.4X: " then up to 16 "%02X " then the ASCII column.
_DUMP_ROW = re.compile(r"^\s*([0-9A-Fa-f]{4,}):((?: [0-9A-Fa-f]{2}){1,16})(?:\s|$)")
_IASL_FIELD = re.compile(r"^\s*(?:\[[^]]*\]\s*)?Signature\s*:", re.MULTILINE)


def read_table_file(path: Path, signature: str | None = None) -> bytes:
    """One table's bytes; ``signature`` picks a table from a multi-table acpidump text."""
    raw = read_bytes(path, ACPI_TABLE)
    text = _as_text(raw)
    if text is None:
        return raw
    if path.suffix.lower() in (".dsl", ".asl") or _IASL_FIELD.search(text):
        return compile_data_table(text, str(path))
    return _pick(_acpidump_tables(text, path), signature, path)


def _as_text(raw: bytes) -> str | None:
    """Text files hold no NUL; every binary table has NULs in its length field."""
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _acpidump_tables(text: str, path: Path) -> dict[str, list[bytes]]:
    tables: dict[str, list[bytearray]] = {}
    current: bytearray | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        title, row = _DUMP_TITLE.match(line), _DUMP_ROW.match(line)
        if title:
            current = bytearray()
            tables.setdefault(title.group(1), []).append(current)
        elif row and current is not None:
            offset = int(row.group(1), 16)
            if offset != len(current):
                raise ParseError(f"{path}: line {number}", f"hex dump offset {offset:#x}, expected {len(current):#x}")
            current += bytes.fromhex(row.group(2))
        elif line.strip():
            raise ParseError(
                f"{path}: line {number}",
                "expected acpidump text ('SRAT @ 0x...' then '0000: 53 52 41 54 ...' rows)",
            )
    if not tables:
        raise ParseError(f"{path}: line 1", "no table found: not a binary table, acpidump text or iasl source")
    return {sig: [bytes(t) for t in found] for sig, found in tables.items()}


def _pick(tables: dict[str, list[bytes]], signature: str | None, path: Path) -> bytes:
    names = ", ".join(f"{sig}×{len(found)}" if len(found) > 1 else sig for sig, found in tables.items())
    if signature is None and len(tables) == 1:
        signature = next(iter(tables))
    if signature is None or signature not in tables:
        wanted = f"no {signature} table" if signature else "several tables"
        raise BadInputError(f"{path}: {wanted} in this acpidump (it has {names}); name the one to use")
    if len(tables[signature]) > 1:
        raise BadInputError(f"{path}: {len(tables[signature])} {signature} tables in this acpidump; expected one")
    return tables[signature][0]


def format_srat(srat: Srat) -> str:
    """A table of the SRAT's subtables, one line each."""
    h = srat.header
    lines = [
        f"SRAT rev {h.revision} OEM {h.oem_id!r} {h.oem_table_id!r} oem_revision {h.oem_revision:#x}",
        f"{'#':>3}  {'type':<10} {'PXM':>4}  {'detail':<45} flags",
    ]
    for index, sub in enumerate(srat.subtables):
        lines.append(f"{index:>3}  " + _subtable_row(sub))
    return "\n".join(lines) + "\n"


def _subtable_row(sub: Subtable) -> str:
    if isinstance(sub, MemoryAffinity):
        span = f"[mem {hex_range(sub.base_address, sub.end)}]" if sub.length else "(empty)"
        words = [w for w, on in (("enabled", sub.enabled), ("hotplug", sub.hot_pluggable),
                                 ("non-volatile", sub.non_volatile)) if on] or ["disabled"]
        return f"{'memory':<10} {sub.proximity_domain:>4}  {span + ' ' + _size(sub.length):<45} {' '.join(words)}"
    if isinstance(sub, (ProcessorLocalApicAffinity, X2ApicAffinity)):
        kind = "apic" if isinstance(sub, ProcessorLocalApicAffinity) else "x2apic"
        state = "enabled" if sub.enabled else "disabled"
        return f"{kind:<10} {sub.proximity_domain:>4}  {f'APIC ID {sub.apic_id:#x}':<45} {state}"
    if isinstance(sub, GenericInitiatorAffinity):
        state = "enabled" if sub.enabled else "disabled"
        detail = f"handle type {sub.device_handle_type} {sub.device_handle.hex()}"
        return f"{'initiator':<10} {sub.proximity_domain:>4}  {detail:<45} {state}"
    assert isinstance(sub, RawSubtable)
    return f"{f'raw {sub.type}':<10} {'-':>4}  {sub.data.hex(' ')}"


def _size(length: int) -> str:
    """Exact when a unit divides the size (2047 MiB, not 1.999 GiB)."""
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if length and length % unit == 0:
            return f"{length // unit} {name}"
    return f"{length / (1 << 20):.2f} MiB" if length >= 1 << 20 else f"{length} B"


def format_slit(slit: Slit) -> str:
    """The distance matrix with locality numbers on both axes."""
    count = slit.locality_count
    lines = [f"SLIT OEM {slit.header.oem_id!r} {slit.header.oem_table_id!r}: {count} localities",
             "from\\to " + " ".join(f"{j:>4}" for j in range(count))]
    lines += [f"{i:>7} " + " ".join(f"{d:>4}" for d in row) for i, row in enumerate(slit.distances)]
    return "\n".join(lines) + "\n"
