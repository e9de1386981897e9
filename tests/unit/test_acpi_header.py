from pathlib import Path

import pytest

from acpi_tables.header import AcpiTableHeader, build_table, check_table, table_checksum
from harness.errors import BadInputError, ParseError

SRAT = (Path(__file__).parents[2] / "fixtures/acpi/qemu-7.2-pc-3node.srat.aml").read_bytes()
HEADER = AcpiTableHeader("SRAT", 0, 1, 0, "BOCHS ", "BXPC    ", 1, "BXPC", 1)


def test_decode_qemu_header() -> None:
    header = AcpiTableHeader.decode(SRAT)
    assert header == HEADER
    assert (header.length, header.checksum) == (0x140, 0x25)
    assert header.encode() == SRAT[:36]


def test_length_and_checksum_do_not_take_part_in_equality() -> None:
    assert AcpiTableHeader("SRAT", 99, 1, 7, "BOCHS ", "BXPC    ", 1, "BXPC", 1) == HEADER


def test_build_table_fixes_length_and_checksum() -> None:
    table = build_table(HEADER, b"\x01\x02\x03")
    assert len(table) == 39 and table[4:8] == (39).to_bytes(4, "little")
    assert table_checksum(table) == 0
    assert table == build_table(HEADER, b"\x01\x02\x03")


def test_check_table_rejects_a_corrupted_byte() -> None:
    corrupt = bytearray(SRAT)
    corrupt[0x60] ^= 0x10
    with pytest.raises(ParseError, match=r"^f\.aml: offset 0x9: bad checksum"):
        check_table(bytes(corrupt), "SRAT", 48, "f.aml")


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (SRAT[:20], r"offset 0x0: 20 bytes is shorter"),
        (SRAT + b"\0", r"offset 0x4: header length is 0x140 but the table has 0x141 bytes"),
        (b"SLIT" + SRAT[4:], r"offset 0x0: signature is 'SLIT', expected 'SRAT'"),
    ],
)
def test_check_table_names_the_offset(data: bytes, pattern: str) -> None:
    with pytest.raises(ParseError, match=pattern):
        check_table(data, "SRAT", 48, "x")


def test_text_fields_must_have_their_exact_width() -> None:
    with pytest.raises(BadInputError, match="oem_id 'BOCHS' must be exactly 6"):
        AcpiTableHeader("SRAT", 0, 1, 0, "BOCHS", "BXPC    ", 1, "BXPC", 1).encode()


def test_out_of_range_numbers_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="does not fit"):
        build_table(AcpiTableHeader("SRAT", 0, 256, 0, "BOCHS ", "BXPC    ", 1, "BXPC", 1), b"")
