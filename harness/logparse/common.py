"""Shared pieces of the boot-log parsers: address ranges, named line patterns, JSON.

Each line kind is a :class:`LineKind`: a cheap ``trigger`` substring that says "this
line claims to be of my kind", the full ``pattern``, the function that builds the
dataclass, and where the result goes in the BootLog (``into``).  A line whose trigger
matches but whose pattern does not (truncated, garbled) is counted as suspicious
instead of raising; so is a line that matches but is the unterminated end of the text,
which nothing proves complete (reader.LineReader.read).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Callable, Generic, Self, TypeAlias, TypeVar, Union

from pydantic import TypeAdapter

T = TypeVar("T")

# The kernel prints addresses as %pa / %#018Lx / %#010Lx: always 0x-prefixed hex.
HEX = r"0x[0-9a-fA-F]+"


def hex_int(text: str) -> int:
    return int(text, 16)


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    # Building a TypeAdapter walks every nested type: do it once per class.
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


class JsonMixin:
    """``to_json``/``from_json`` for frozen dataclasses, driven by their type hints."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _adapter(type(self)).dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        result: Self = _adapter(cls).validate_python(data)
        return result


@dataclass(frozen=True)
class AddressRange(JsonMixin):
    """A physical address range, half-open: the kernel's inclusive ``end`` plus one."""

    start: int
    end: int

    @classmethod
    def from_inclusive(cls, start: str, last: str) -> AddressRange:
        return cls(hex_int(start), hex_int(last) + 1)

    @property
    def size(self) -> int:
        return self.end - self.start

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end

    def contains(self, start: int, end: int) -> bool:
        return self.start <= start and end <= self.end


@dataclass(frozen=True)
class _Field:
    field: str
    attr: str | None = None  # None: the parsed item itself

    def value(self, item: object) -> object:
        return item if self.attr is None else getattr(item, self.attr)


@dataclass(frozen=True)
class Append(_Field):
    """Add the item (or its attribute ``attr``) to the BootLog tuple ``field``, in log order;
    ``unique``: not when the tuple already holds it (two lines telling one fact)."""

    unique: bool = False


@dataclass(frozen=True)
class First(_Field):
    """Keep the first item (or its attribute ``attr``) as the BootLog field ``field``."""


@dataclass(frozen=True)
class ByKey:
    """``field[item.key] = item.attr`` in a BootLog dict; a later line for the same key wins."""

    field: str
    key: str
    attr: str


class Special(enum.Enum):
    """Destinations the parser handles itself (parser._Builder): state across lines, or none."""

    MEMBLOCK_OP = "memblock_op"  # a request is answered by a later reserve → memblock_ops
    MEMBLOCK_DUMP = "memblock_dump"  # region lines belong to the latest header → memblock_dumps
    PAGE_HEADER = "page_header"  # dump_page's first line: its pfn belongs to the page_dumped line
    PAGE_DUMPED = "page_dumped"  # an offline failure with the pfn of its header → offline_failures
    NOT_KEPT = "not_kept"  # recognised, not in the BootLog (section headers, console-only lines)
    CALLER_HINT = "caller_hint"  # a line that names the allocation just before it → memblock_ops


Into: TypeAlias = Union[Append, First, ByKey, Special]


@dataclass(frozen=True)
class LineKind(Generic[T]):
    """One named kind of log line: trigger substring, full pattern, builder, destination."""

    name: str
    trigger: str
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str], int], T]
    into: Into

    def parse(self, message: str, line: int) -> tuple[T, str] | None:
        """The parsed item and what followed it on the line (lines printed without
        ``\\n`` get the next message glued on), or None if the pattern does not match."""
        match = self.pattern.search(message)
        if match is None:
            return None
        return self.build(match, line), message[match.end():]


# GCC clone suffixes (.constprop.0, .isra.0, .part.0, .cold) are not part of the
# function's name in the source, which is what a reader greps for.
_CLONE_SUFFIX = re.compile(r"(\.(constprop|isra|part|cold|llvm)(\.\d+)?)+$")


def caller_function(caller: str) -> str:
    """``vmemmap_alloc_block_zero.constprop.0+0xc/0x28`` → ``vmemmap_alloc_block_zero``."""
    name = caller.split("+", 1)[0].split(" ", 1)[0]
    return _CLONE_SUFFIX.sub("", name)
