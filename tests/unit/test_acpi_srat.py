from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acpi_tables.header import AcpiTableHeader, table_checksum
from acpi_tables.srat import (
    GenericInitiatorAffinity,
    MemoryAffinity,
    ProcessorLocalApicAffinity,
    RawSubtable,
    Srat,
    Subtable,
    X2ApicAffinity,
    decode_srat,
    encode_srat,
)
from harness.errors import BadInputError, ParseError

SRAT = (Path(__file__).parents[2] / "fixtures/acpi/qemu-7.2-pc-3node.srat.aml").read_bytes()
HEADER = AcpiTableHeader("SRAT", 0, 1, 0, "BOCHS ", "BXPC    ", 1, "BXPC", 1)
GiB = 1 << 30


def test_decode_qemu_srat() -> None:
    srat = decode_srat(SRAT, "qemu.aml")
    assert srat.header == HEADER and (srat.table_revision, srat.reserved) == (1, 0)
    assert srat.subtables == (
        ProcessorLocalApicAffinity(0, 0),
        ProcessorLocalApicAffinity(1, 1),
        MemoryAffinity(0, 0, 0xA0000),
        MemoryAffinity(0, 0x100000, 0x7FF00000),
        MemoryAffinity(1, 2 * GiB, GiB),
        MemoryAffinity(2, 4 * GiB, GiB),
        MemoryAffinity(0, 0, 0, 0),
        MemoryAffinity(2, 5 * GiB, 8 * GiB, MemoryAffinity.ENABLED | MemoryAffinity.HOT_PLUGGABLE),
    )
    assert encode_srat(srat) == SRAT


def test_proximity_domain_joins_low_and_high_bytes() -> None:
    cpu = ProcessorLocalApicAffinity(0x12345678, 3)
    raw = cpu.encode()
    assert (raw[2], raw[9:12]) == (0x78, bytes((0x56, 0x34, 0x12)))
    assert ProcessorLocalApicAffinity.decode(raw) == cpu


def test_subtable_sizes_match_the_spec() -> None:
    sizes: dict[Subtable, int] = {
        ProcessorLocalApicAffinity(0, 0): 16,
        MemoryAffinity(0, 0, 0): 40,
        X2ApicAffinity(0, 0): 24,
        GenericInitiatorAffinity(1, 0, bytes(16)): 32,
    }
    for subtable, size in sizes.items():
        assert len(subtable.encode()) == size and subtable.encode()[1] == size


def test_nonzero_reserved_bytes_keep_the_subtable_raw_and_byte_identical() -> None:
    raw = bytearray(MemoryAffinity(1, GiB, GiB).encode())
    raw[6] = 0xAA  # reserved
    srat = decode_srat(encode_srat(Srat(HEADER, subtables=(RawSubtable(1, bytes(raw[2:])),))))
    assert srat.subtables == (RawSubtable(1, bytes(raw[2:])),)


@pytest.mark.parametrize(
    ("tail", "pattern"),
    [
        (b"\x01", r"offset 0x140: table ends inside a subtable header"),
        (b"\x07\x01", r"offset 0x140: subtable type 7 has length 1, less than 2"),
        (b"\x07\x09abc", r"offset 0x140: subtable type 7 of length 9 runs past the table end at 0x145"),
        (b"\x01\x03x", r"offset 0x140: memory affinity subtable has length 3, the ACPI spec says 40"),
    ],
)
def test_bad_subtables_name_their_offset(tail: bytes, pattern: str) -> None:
    with pytest.raises(ParseError, match=pattern):
        decode_srat(_with_tail(tail), "t.aml")


def _with_tail(tail: bytes) -> bytes:
    """QEMU's SRAT with extra bytes appended and the header fixed to match."""
    data = bytearray(SRAT + tail)
    data[4:8] = len(data).to_bytes(4, "little")
    data[9] = 0
    data[9] = -table_checksum(data) & 0xFF
    return bytes(data)


def test_encode_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(BadInputError, match="does not fit"):
        encode_srat(Srat(HEADER, subtables=(MemoryAffinity(0, 1 << 64, 0),)))
    with pytest.raises(BadInputError, match="signature"):
        encode_srat(Srat(replace(HEADER, signature="SLIT")))


# --- properties -----------------------------------------------------------------

u8, u32, u64 = (st.integers(0, (1 << bits) - 1) for bits in (8, 32, 64))
latin1 = st.characters(min_codepoint=0, max_codepoint=255)


def _text(width: int) -> st.SearchStrategy[str]:
    return st.text(latin1, min_size=width, max_size=width)


headers = st.builds(
    AcpiTableHeader, st.just("SRAT"), st.just(0), u8, st.just(0), _text(6), _text(8), u32, _text(4), u32
)
subtables: st.SearchStrategy[Subtable] = st.one_of(
    st.builds(ProcessorLocalApicAffinity, u32, u8, u32, u8, u32),
    st.builds(MemoryAffinity, u32, u64, u64, u32),
    st.builds(X2ApicAffinity, u32, u32, u32, u32),
    st.builds(GenericInitiatorAffinity, u8, u32, st.binary(min_size=16, max_size=16), u32),
    # Types without a typed class; a typed type would decode into its class.
    st.builds(RawSubtable, u8.filter(lambda t: t not in (0, 1, 2, 5)), st.binary(max_size=253)),
)
srats = st.builds(Srat, headers, u32, u64, st.lists(subtables, max_size=12).map(tuple))


@given(srats)
def test_round_trip(srat: Srat) -> None:
    data = encode_srat(srat)
    assert table_checksum(data) == 0
    assert decode_srat(data) == srat


@given(st.binary(max_size=400))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    _decode_or_parse_error(b"SRAT" + data)
    _decode_or_parse_error(data)


@given(srats, st.lists(st.tuples(st.integers(0, 10_000), u8), min_size=1, max_size=4), st.integers(-8, 8))
def test_mutated_tables_only_raise_parse_error(srat: Srat, flips: list[tuple[int, int]], resize: int) -> None:
    data = bytearray(encode_srat(srat))
    for position, value in flips:
        data[position % len(data)] = value
    data = data[: len(data) + resize] if resize < 0 else data + bytes(resize)
    _decode_or_parse_error(bytes(data))
    # Fix length and checksum so the mutation reaches the subtable walk.
    if len(data) >= 36:
        data[4:8] = len(data).to_bytes(4, "little")
        data[9] = 0
        data[9] = -table_checksum(data) & 0xFF
    _decode_or_parse_error(bytes(data))


def _decode_or_parse_error(data: bytes) -> None:
    try:
        srat = decode_srat(data, "fuzz")
    except ParseError as err:
        assert str(err).startswith("fuzz: offset 0x")
    else:
        assert encode_srat(srat) == data


def test_real_server_srat_round_trips_byte_for_byte() -> None:
    # AMD EPYC (8 nodes, 128 CPUs) from an acpidump posted to a public list: fixtures/acpi/README.md.
    from acpi_tables.show import read_table_file

    raw = read_table_file(Path(__file__).parents[2] / "fixtures/acpi/amd-epyc-diesel.srat.acpidump.txt", "SRAT")
    srat = decode_srat(raw, "amd-epyc")
    assert encode_srat(srat) == raw
    nodes = {m.proximity_domain for m in srat.memory_affinities if m.length}
    assert nodes == set(range(8)) and srat.header.oem_id == "AMD\0\0\0"
