"""acpica-tools ``iasl``: disassemble tables and compile data-table source.

iasl always stamps its own ``Asl Compiler ID``/``Revision`` (``INTL``, its version)
into what it compiles, and it builds flag words from the decoded bit lines, so
only the flag bits it names can be expressed in source.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import BadInputError, InfrastructureError, ParseError

from .header import AcpiTableHeader
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

_TIMEOUT_S = 60
_INSTALL_HINT = "install it with: apt-get install acpica-tools"


def find_iasl() -> Path:
    """The ``iasl`` on ``PATH``."""
    found = shutil.which("iasl")
    if found is None:
        raise InfrastructureError(f"iasl not found on PATH; {_INSTALL_HINT}")
    return Path(found)


def disassemble(table: bytes) -> str:
    """``iasl -d``: the disassembly of one binary table."""
    with tempfile.TemporaryDirectory(prefix="memhp-iasl-") as tmp:
        source = Path(tmp, "table.dat")
        source.write_bytes(table)
        code, output = _run([str(find_iasl()), "-d", source.name], Path(tmp))
        result = Path(tmp, "table.dsl")
        if code != 0 or not result.exists():
            raise BadInputError(f"iasl could not disassemble the table: {_first_error(output)[1]}")
        return result.read_text(encoding="latin-1")


def compile_data_table(source: str, where: str = "<iasl source>") -> bytes:
    """Compile data-table source (``.dsl``/``.asl``) with iasl; errors name the source line."""
    with tempfile.TemporaryDirectory(prefix="memhp-iasl-") as tmp:
        Path(tmp, "table.dsl").write_text(source, encoding="latin-1")
        # iasl writes table.aml even when it fails, so only its exit status counts.
        code, output = _run([str(find_iasl()), "table.dsl"], Path(tmp))
        if code != 0:
            line_no, message = _first_error(output)
            raise ParseError(f"{where}: line {line_no}" if line_no else where, f"iasl: {message}")
        return Path(tmp, "table.aml").read_bytes()


def to_data_table_source(table: Srat | Slit) -> str:
    """iasl data-table source for ``table``; iasl computes length and checksum."""
    lines = _header_lines(table.header)
    if isinstance(table, Srat):
        lines += ["", f"Table Revision : {table.table_revision:08X}", f"Reserved : {table.reserved:016X}"]
        for index, subtable in enumerate(table.subtables):
            lines += [""] + _subtable_lines(index, subtable)
    else:
        lines += ["", f"Localities : {table.locality_count:016X}"]
        lines += [f"Locality {i:3} : " + " ".join(f"{d:02X}" for d in row) for i, row in enumerate(table.distances)]
    return "\n".join(lines) + "\n"


def _header_lines(header: AcpiTableHeader) -> list[str]:
    return [
        f"Signature : {_quoted('signature', header.signature)}",
        "Table Length : 00000000",
        f"Revision : {header.revision:02X}",
        "Checksum : 00",
        f"Oem ID : {_quoted('oem_id', header.oem_id)}",
        f"Oem Table ID : {_quoted('oem_table_id', header.oem_table_id)}",
        f"Oem Revision : {header.oem_revision:08X}",
        f"Asl Compiler ID : {_quoted('asl_compiler_id', header.asl_compiler_id)}",
        f"Asl Compiler Revision : {header.asl_compiler_revision:08X}",
    ]


def _subtable_lines(index: int, sub: Subtable) -> list[str]:
    if isinstance(sub, ProcessorLocalApicAffinity):
        return [
            "Subtable Type : 00", "Length : 10",
            f"Proximity Domain Low(8) : {sub.proximity_domain & 0xFF:02X}",
            f"Apic ID : {sub.apic_id:02X}",
            *_flag_lines(index, sub.flags, ("Enabled",)),
            f"Local Sapic EID : {sub.local_sapic_eid:02X}",
            f"Proximity Domain High(24) : {sub.proximity_domain >> 8:06X}",
            f"Clock Domain : {sub.clock_domain:08X}",
        ]
    if isinstance(sub, MemoryAffinity):
        return [
            "Subtable Type : 01", "Length : 28",
            f"Proximity Domain : {sub.proximity_domain:08X}", "Reserved1 : 0000",
            f"Base Address : {sub.base_address:016X}", f"Address Length : {sub.length:016X}",
            "Reserved2 : 00000000",
            *_flag_lines(index, sub.flags, ("Enabled", "Hot Pluggable", "Non-Volatile")),
            "Reserved3 : 0000000000000000",
        ]
    if isinstance(sub, X2ApicAffinity):
        return [
            "Subtable Type : 02", "Length : 18", "Reserved1 : 0000",
            f"Proximity Domain : {sub.proximity_domain:08X}", f"Apic ID : {sub.apic_id:08X}",
            *_flag_lines(index, sub.flags, ("Enabled",)),
            f"Clock Domain : {sub.clock_domain:08X}", "Reserved2 : 00000000",
        ]
    if isinstance(sub, GenericInitiatorAffinity):
        return [
            "Subtable Type : 05", "Length : 20", "Reserved1 : 00",
            f"Device Handle Type : {sub.device_handle_type:02X}",
            f"Proximity Domain : {sub.proximity_domain:08X}",
            "Device Handle : " + " ".join(f"{b:02X}" for b in sub.device_handle),
            *_flag_lines(index, sub.flags, ("Enabled",)),
            "Reserved2 : 00000000",
        ]
    assert isinstance(sub, RawSubtable)
    raise BadInputError(f"SRAT subtable {index}: iasl source cannot express raw subtable type {sub.type}")


def _flag_lines(index: int, flags: int, names: tuple[str, ...]) -> list[str]:
    if flags >> len(names):
        raise BadInputError(
            f"SRAT subtable {index}: flags {flags:#x} set bits iasl cannot express (it knows {', '.join(names)})"
        )
    return [f"Flags (decoded below) : {flags:08X}"] + [f"{n} : {flags >> bit & 1}" for bit, n in enumerate(names)]


def _quoted(name: str, text: str) -> str:
    # Firmware pads IDs with NULs ("AMD\0\0\0"); iasl pads a shorter string with NULs too.
    text = text.rstrip("\0")
    if not all(" " <= c <= "~" and c != '"' for c in text):
        raise BadInputError(f"header {name} {text!r}: iasl source can only quote printable ASCII")
    return f'"{text}"'


def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise InfrastructureError(f"iasl did not finish within {_TIMEOUT_S} s: {' '.join(argv)}") from err
    except OSError as err:
        raise InfrastructureError(f"cannot run iasl ({err}); {_INSTALL_HINT}") from err
    return done.returncode, done.stdout + done.stderr


_LOCATION = re.compile(r"^table\.dsl\s+(\d+):")
_ERROR = re.compile(r"^Error\s+\d+\s+-\s*(.*)$")


def _first_error(output: str) -> tuple[int | None, str]:
    """The source line and message of iasl's first error (it prints the line before the error)."""
    line_no: int | None = None
    for line in output.splitlines():
        location = _LOCATION.match(line)
        if location:
            line_no = int(location.group(1))
        error = _ERROR.match(line.strip())
        if error:
            return line_no, " ".join(error.group(1).replace("^", " ").split())
    last = [line.strip() for line in output.splitlines() if line.strip()]
    return None, last[-1] if last else "iasl printed nothing"
