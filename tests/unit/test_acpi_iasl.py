"""Our codecs against acpica-tools' iasl (as pyelftools tests itself against readelf)."""
import re
import shutil
from pathlib import Path

import pytest

from acpi_tables import iasl
from acpi_tables.header import AcpiTableHeader
from acpi_tables.show import read_table_file
from acpi_tables.slit import decode_slit, encode_slit
from acpi_tables.srat import (
    MemoryAffinity,
    ProcessorLocalApicAffinity,
    RawSubtable,
    Srat,
    X2ApicAffinity,
    decode_srat,
    encode_srat,
)
from harness.errors import BadInputError, InfrastructureError, ParseError

FIXTURES = Path(__file__).parents[2] / "fixtures/acpi"
SRAT = (FIXTURES / "qemu-7.2-pc-3node.srat.aml").read_bytes()
SLIT = (FIXTURES / "qemu-7.2-pc-3node.slit.aml").read_bytes()
# A real server's table (AMD EPYC, 8 nodes, 128 CPUs): see fixtures/acpi/README.md.
REAL_SRAT = read_table_file(FIXTURES / "amd-epyc-diesel.srat.acpidump.txt", "SRAT")
SRATS = pytest.mark.parametrize("table, subtables", [(SRAT, 8), (REAL_SRAT, 138)], ids=["qemu", "amd-epyc"])
needs_iasl = pytest.mark.skipif(shutil.which("iasl") is None, reason="iasl (acpica-tools) not installed")


def _without_compiler_fields(table: bytes) -> bytes:
    """iasl stamps its own compiler ID/revision, which also changes the checksum."""
    return table[:9] + table[10:28] + table[36:]


def test_missing_iasl_is_an_infrastructure_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InfrastructureError, match="apt-get install acpica-tools"):
        iasl.find_iasl()


@needs_iasl
@SRATS
def test_srat_compiles_back_to_our_bytes(table: bytes, subtables: int) -> None:
    source = iasl.to_data_table_source(decode_srat(table))
    compiled = iasl.compile_data_table(source)
    assert _without_compiler_fields(compiled) == _without_compiler_fields(table)
    assert compiled[28:32] == b"INTL"


@needs_iasl
def test_generated_srat_with_every_typed_subtable_compiles_to_our_bytes() -> None:
    header = AcpiTableHeader("SRAT", 0, 3, 0, "MEMHP ", "OVERRIDE", 7, "MEMH", 2)
    srat = Srat(header, subtables=(
        X2ApicAffinity(0x1234, 0x100, 0),
        MemoryAffinity(0x10203, 1 << 32, 1 << 30, MemoryAffinity.ENABLED | MemoryAffinity.HOT_PLUGGABLE),
        MemoryAffinity(2, 5 << 30, 1 << 29, MemoryAffinity.ENABLED | MemoryAffinity.NON_VOLATILE),
    ))
    ours = encode_srat(srat)
    assert _without_compiler_fields(iasl.compile_data_table(iasl.to_data_table_source(srat))) == (
        _without_compiler_fields(ours)
    )


@needs_iasl
def test_qemu_slit_compiles_back_to_our_bytes() -> None:
    compiled = iasl.compile_data_table(iasl.to_data_table_source(decode_slit(SLIT)))
    assert _without_compiler_fields(compiled) == _without_compiler_fields(encode_slit(decode_slit(SLIT)))


def _disassembled_subtables(text: str) -> list[dict[str, int]]:
    """``[030h 0048   1]   Subtable Type : 00 [...]`` blocks as {field name: value}."""
    blocks: list[dict[str, int]] = []
    for name, value in re.findall(r"^\[[^]]+\]\s+(.+?)\s+: ([0-9A-F]+)\b", text, re.MULTILINE):
        if name == "Subtable Type":
            blocks.append({})
        if blocks:
            blocks[-1][name] = int(value, 16)
    return blocks


@needs_iasl
@SRATS
def test_our_decoder_agrees_with_iasl_disassembly(table: bytes, subtables: int) -> None:
    theirs = _disassembled_subtables(iasl.disassemble(table))
    ours = decode_srat(table).subtables
    assert len(theirs) == len(ours) == subtables
    for block, sub in zip(theirs, ours, strict=True):
        if isinstance(sub, MemoryAffinity):
            fields = ("Proximity Domain", "Base Address", "Address Length", "Flags (decoded below)")
            assert [block[f] for f in fields] == [sub.proximity_domain, sub.base_address, sub.length, sub.flags]
        else:
            assert isinstance(sub, ProcessorLocalApicAffinity)
            domain = block["Proximity Domain Low(8)"] | block["Proximity Domain High(24)"] << 8
            assert (domain, block["Apic ID"], block["Flags (decoded below)"]) == (
                sub.proximity_domain, sub.apic_id, sub.flags)


@needs_iasl
def test_compile_error_names_the_source_line() -> None:
    source = iasl.to_data_table_source(decode_slit(SLIT)).replace("Localities", "Locxx")
    with pytest.raises(ParseError, match=r'^my\.dsl: line 11: iasl: Invalid field label .*"Locxx"'):
        iasl.compile_data_table(source, "my.dsl")


def test_source_refuses_what_iasl_cannot_express() -> None:
    header = AcpiTableHeader("SRAT", 0, 3, 0, "MEMHP ", "OVERRIDE", 7, "MEMH", 2)
    with pytest.raises(BadInputError, match="subtable 0: flags 0x8 set bits iasl cannot express"):
        iasl.to_data_table_source(Srat(header, subtables=(MemoryAffinity(0, 0, 0, 8),)))
    with pytest.raises(BadInputError, match="raw subtable type 3"):
        iasl.to_data_table_source(Srat(header, subtables=(RawSubtable(3, bytes(16)),)))
