from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acpi_tables.header import AcpiTableHeader, table_checksum
from acpi_tables.slit import Slit, decode_slit, encode_slit
from harness.errors import BadInputError, ParseError

SLIT = (Path(__file__).parents[2] / "fixtures/acpi/qemu-7.2-pc-3node.slit.aml").read_bytes()
HEADER = AcpiTableHeader("SLIT", 0, 1, 0, "BOCHS ", "BXPC    ", 1, "BXPC", 1)


def test_decode_qemu_slit() -> None:
    slit = decode_slit(SLIT, "qemu.aml")
    assert slit == Slit(HEADER, ((10, 20, 30), (20, 10, 25), (30, 25, 10)))
    assert encode_slit(slit) == SLIT


def test_locality_count_must_match_the_matrix() -> None:
    data = bytearray(SLIT)
    data[36:44] = (1 << 40).to_bytes(8, "little")  # absurd count must not allocate
    data[9] = 0
    data[9] = -table_checksum(data) & 0xFF
    with pytest.raises(ParseError, match=r"^s\.aml: offset 0x24: locality_count 1099511627776 needs"):
        decode_slit(bytes(data), "s.aml")


def test_encode_rejects_a_ragged_or_too_large_matrix() -> None:
    with pytest.raises(BadInputError, match="row 1 has 1 distances, expected 2"):
        encode_slit(Slit(HEADER, ((10, 20), (10,))))
    with pytest.raises(BadInputError, match="distance 256 does not fit"):
        encode_slit(Slit(HEADER, ((256,),)))


matrices = st.integers(0, 6).flatmap(
    lambda n: st.lists(st.lists(st.integers(0, 255), min_size=n, max_size=n).map(tuple), min_size=n, max_size=n)
).map(tuple)


@given(matrices)
def test_round_trip(distances: tuple[tuple[int, ...], ...]) -> None:
    assert decode_slit(encode_slit(Slit(HEADER, distances))).distances == distances


@given(st.binary(max_size=120))
def test_random_bytes_only_raise_parse_error(tail: bytes) -> None:
    for data in (tail, SLIT[:36] + tail, _fixed(SLIT[:36] + tail)):
        try:
            decode_slit(data, "fuzz")
        except ParseError as err:
            assert str(err).startswith("fuzz: offset 0x")


def _fixed(data: bytes) -> bytes:
    out = bytearray(data)
    out[4:8] = len(out).to_bytes(4, "little")
    out[9] = 0
    out[9] = -table_checksum(out) & 0xFF
    return bytes(out)
