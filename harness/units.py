"""Sizes and addresses as people write them in scenario files (``2G``, ``512M``,
``0x1_0000_0000``) and as the kernel prints them, and the kernel's own reading of
sizes and options on its command line."""
from __future__ import annotations

import re
from typing import overload

_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(0x[0-9a-fA-F_]+|\d[\d_]*)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)

GiB = 1 << 30
MiB = 1 << 20


def parse_size(value: int | str) -> int:
    """``"2G"`` → 2147483648; plain integers and hex strings are bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative: {value}")
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r} (write e.g. 512M, 2G or 0x40000000)")
    number = int(match.group(1).replace("_", ""), 0)
    return number * _SUFFIX[match.group(2).upper()]


def format_size(size: int) -> str:
    """The shortest exact binary-suffixed form: 2147483648 → ``2G``."""
    for suffix in ("T", "G", "M", "K"):
        unit = _SUFFIX[suffix]
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def hex_range(start: int, end: int) -> str:
    """A half-open range as the kernel prints it, inclusive: ``0x100000000-0x13fffffff``."""
    return f"{start:#x}-{end - 1:#x}"


@overload
def optional_hex(value: int | None) -> str | None: ...
@overload
def optional_hex(value: int | None, absent: str) -> str: ...
def optional_hex(value: int | None, absent: str | None = None) -> str | None:
    """An address that may be missing (a failed allocation, a node without one):
    ``0x1000``, else ``absent`` (None, i.e. JSON null, unless told)."""
    return absent if value is None else f"{value:#x}"


# -- the kernel command line, read the way the kernel reads it ---------------------

U64_MASK = (1 << 64) - 1
# These ASCII letters only: str.lower() would also turn the Kelvin sign into "k".
_MEMPARSE_SHIFT = {c: 10 * (i + 1) for i, s in enumerate("KMGTPE") for c in (s, s.lower())}
_HEX_DIGITS = "0123456789abcdefABCDEF"
# include/linux/ctype.h isspace over lib/ctype.c's table, which counts 0xA0 (NBSP) too.
_KERNEL_SPACE = " \t\n\v\f\r\xa0"


def strtoull(text: str) -> tuple[int, int]:
    """lib/vsprintf.c:simple_strtoull(text, &end, 0): the value (mod 2^64, as the kernel's
    u64 wraps) and where the digits end.  lib/kstrtox.c:_parse_integer_fixup_radix picks
    the base: ``0x`` before a hex digit is hex, any other leading ``0`` octal."""
    base, i = 10, 0
    if text[:1] == "0":
        hex_prefix = text[1:2] in ("x", "X") and text[2:3] != "" and text[2] in _HEX_DIGITS
        base, i = (16, 2) if hex_prefix else (8, 0)
    value = 0
    while i < len(text) and text[i] in _HEX_DIGITS and int(text[i], 16) < base:
        value = (value * base + int(text[i], 16)) & U64_MASK
        i += 1
    return value, i


def memparse(text: str) -> tuple[int, str]:
    """lib/cmdline.c:memparse: ``16M`` → (16777216, ""); returns the value and the text
    after it (the kernel's ``retptr``).  One suffix of K M G T P E, either case; the
    number may be hex (``0x10G``, where an E would be a digit) or octal (``010`` is 8).
    Like the kernel it never fails: text without digits reads as 0."""
    value, end = strtoull(text)
    shift = _MEMPARSE_SHIFT.get(text[end:end + 1])
    if shift is not None:
        value, end = (value << shift) & U64_MASK, end + 1
    return value, text[end:]


def parse_percent(text: str) -> int | None:
    """The percent form ``kernelcore=``/``movablecore=`` accept (6.1
    mm/page_alloc.c:cmdline_parse_core, 6.12 mm/mm_init.c): ``25%`` → 25; None when the
    number is not followed by ``%`` (then the value is a memparse size)."""
    value, end = strtoull(text)
    return value if text[end:end + 1] == "%" else None


def _next_arg(args: str) -> tuple[str, str | None, str]:
    """lib/cmdline.c:next_arg: (param, value or None, the rest).  Quotes may hide spaces;
    one opening quote of the word and of the value is dropped, and the word's last
    character once if it is a quote."""
    quoted = args[:1] == '"'
    if quoted:
        args = args[1:]
    in_quote, equals, i = quoted, 0, 0
    while i < len(args) and not (args[i] in _KERNEL_SPACE and not in_quote):
        if equals == 0 and args[i] == "=":
            equals = i  # a leading "=" leaves equals at 0, as in the kernel: no value
        if args[i] == '"':
            in_quote = not in_quote
        i += 1
    word, rest = args[:i], args[i + 1:].lstrip(_KERNEL_SPACE)
    end = len(word)
    value_start = equals + 1
    if equals and word[value_start:value_start + 1] == '"':
        value_start += 1
        end -= word.endswith('"')
    if quoted and end == len(word) and word.endswith('"'):
        end -= 1
    if not equals:
        return word[:end], None, rest
    return word[:equals], word[value_start:end], rest


def kernel_params(cmdline: str) -> list[tuple[str, str | None]]:
    """kernel/params.c:parse_args: every ``param[=value]`` in order, up to a bare ``--``
    (what follows it is init's)."""
    params: list[tuple[str, str | None]] = []
    args = cmdline.lstrip(_KERNEL_SPACE)
    while args:
        param, value, args = _next_arg(args)
        if value is None and param == "--":
            break
        params.append((param, value))
    return params


def _parameq(a: str, b: str) -> bool:
    """kernel/params.c:parameq: names match with ``-`` and ``_`` taken as the same."""
    return a.replace("-", "_") == b.replace("-", "_")


def option_values(cmdline: str, name: str) -> list[str]:
    """Every value given to ``name=`` in order.  init/main.c:do_early_param calls the
    option's handler once per occurrence, so which one counts is the handler's rule
    (usually the last; see its callers); ``name`` without ``=`` passes no value."""
    return [v for p, v in kernel_params(cmdline) if v is not None and _parameq(p, name)]


def has_flag(cmdline: str, name: str) -> bool:
    """Whether ``name`` is set: a flag's handler (e.g. mm/memory_hotplug.c:
    cmdline_parse_movable_node) ignores any value, so ``name=x`` sets it too."""
    return any(_parameq(p, name) for p, _ in kernel_params(cmdline))
