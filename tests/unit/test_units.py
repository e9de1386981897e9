"""harness.units: the address and size texts shared by every layer, and the kernel's
own reading of its command line (checked against examples of the kernel's behaviour,
round trips, and, in test_units_kernel.py, the kernel's code itself)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.units import (
    U64_MASK,
    format_size,
    has_flag,
    hex_range,
    kernel_params,
    memparse,
    option_values,
    optional_hex,
    parse_percent,
)

U64 = st.integers(min_value=0, max_value=U64_MASK)
SHIFTS = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
# Words with no space, quote or "=": what a scenario's options are made of.
WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_.,:/"), min_size=1, max_size=12)


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


@pytest.mark.parametrize(("text", "value", "rest"), [
    ("16M", 16 << 20, ""),
    ("16m", 16 << 20, ""),  # either case
    ("2G", 2 << 30, ""),
    ("1P", 1 << 50, ""),
    ("4096", 4096, ""),
    ("0x10G", 16 << 30, ""),  # hex numbers take suffixes too
    ("0X1f", 0x1F, ""),
    ("0x1E", 0x1E, ""),  # ... but E (and a few others) are hex digits there
    ("1e", 1 << 60, ""),  # and exabytes in decimal
    ("010", 8, ""),  # simple_strtoull base 0: a leading 0 is octal
    ("09", 0, "9"),  # 9 is no octal digit
    ("0x", 0, "x"),  # 0x without a hex digit: the octal 0, then text
    ("512Mfoo", 512 << 20, "foo"),  # one suffix; the rest is the caller's
    ("1KM", 1 << 10, "M"),
    ("mirror", 0, "irror"),  # kernelcore=mirror: no digits reads 0, "m" still a suffix
    ("", 0, ""),
    ("16E", 0, ""),  # u64 arithmetic wraps
])
def test_memparse_reads_like_lib_cmdline_memparse(text: str, value: int, rest: str) -> None:
    assert memparse(text) == (value, rest)


@pytest.mark.parametrize(("text", "percent"), [
    ("25%", 25), ("0x10%", 16), ("100%", 100), ("0%", 0),
    ("%", 0),  # no digits read as 0, and a "%" follows
    ("25", None), ("25M", None), ("25 %", None),
])
def test_parse_percent_is_cmdline_parse_core_s_percent_form(text: str, percent: int | None) -> None:
    assert parse_percent(text) == percent


@given(U64, st.sampled_from(sorted(SHIFTS)), st.booleans())
def test_memparse_round_trips_a_decimal_size_with_any_suffix(number: int, suffix: str, lower: bool) -> None:
    text = f"{number}{suffix.lower() if lower else suffix}"
    assert memparse(text) == ((number << SHIFTS[suffix]) & U64_MASK, "")


@given(U64, st.sampled_from(["", "K", "M", "G", "T", "P"]))
def test_memparse_round_trips_hex_with_a_suffix_that_is_no_hex_digit(number: int, suffix: str) -> None:
    assert memparse(f"{number:#x}{suffix}") == ((number << SHIFTS.get(suffix, 0)) & U64_MASK, "")


@given(st.integers(min_value=1, max_value=U64_MASK))
def test_memparse_reads_back_what_format_size_writes(size: int) -> None:
    assert memparse(format_size(size)) == (size, "")


def test_kernel_params_splits_like_next_arg() -> None:
    line = '  console=ttyS0,115200  movable_node dyndbg="file srat.c +p" "quoted word" x= =y'
    assert kernel_params(line) == [
        ("console", "ttyS0,115200"), ("movable_node", None), ("dyndbg", "file srat.c +p"),
        ("quoted word", None), ("x", ""), ("=y", None)]


def test_kernel_params_split_at_the_kernel_s_spaces_only() -> None:
    # lib/ctype.c counts 0xA0 as a space; Python's str.split would also split at U+2003.
    assert kernel_params("a\xa0b\vc\u2003d") == [("a", None), ("b", None), ("c\u2003d", None)]


def test_kernel_params_stop_at_a_bare_double_dash() -> None:
    assert kernel_params("quiet -- movable_node") == [("quiet", None)]
    assert kernel_params("quiet --=1 movable_node") == [("quiet", None), ("--", "1"), ("movable_node", None)]


@given(st.lists(st.tuples(WORD, st.one_of(st.none(), WORD)), max_size=6))
def test_kernel_params_read_back_the_options_they_were_written_from(options: list[tuple[str, str | None]]) -> None:
    options = [(name, value) for name, value in options if name != "--"]
    line = " ".join(name if value is None else f"{name}={value}" for name, value in options)
    assert kernel_params(line) == options


@given(WORD, st.text(st.sampled_from("ab =%,"), max_size=10))
def test_a_quoted_value_keeps_its_spaces(name: str, value: str) -> None:
    assert kernel_params(f'{name}="{value}" next') == [(name, value), ("next", None)]


def test_option_values_lists_every_occurrence_in_order_with_dashes_as_underscores() -> None:
    line = "log_buf_len=1M kernelcore=2G log-buf-len=4M log_buf_len log_buf_len= -- log_buf_len=8M"
    assert option_values(line, "log_buf_len") == ["1M", "4M", ""]
    assert option_values(line, "movablecore") == []


@pytest.mark.parametrize(("line", "expected"), [
    ("quiet movable_node", True),
    ("movable_node=0", True),  # cmdline_parse_movable_node ignores its argument
    ("movable-node", True),
    ('"movable_node"', True),
    ("movable_nodes", False),
    ("nomovable_node", False),
    ("x=movable_node", False),
    ("quiet -- movable_node", False),  # init's argument, not the kernel's
    ("", False),
])
def test_has_flag_is_the_kernel_s_reading_of_a_flag(line: str, expected: bool) -> None:
    assert has_flag(line, "movable_node") is expected
