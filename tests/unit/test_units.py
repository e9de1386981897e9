"""harness.units: the address and size texts shared by every layer."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.units import hex_range, optional_hex

U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


def test_optional_hex_writes_present_addresses_like_the_kernel_and_absent_ones_as_told() -> None:
    assert optional_hex(0x100000000) == "0x100000000"
    assert optional_hex(0) == "0x0"
    assert optional_hex(None) is None
    assert optional_hex(None, "none") == "none"
    assert optional_hex(0x1000, "none") == "0x1000"


@given(U64)
def test_optional_hex_reads_back_as_the_same_address(value: int) -> None:
    assert int(optional_hex(value, "none"), 16) == value


def test_hex_range_prints_the_inclusive_end() -> None:
    assert hex_range(0x100000000, 0x140000000) == "0x100000000-0x13fffffff"
