"""Facts from a vmlinux ELF and its System.map: banner, symbols, image extent.

The vmlinux inside a bzImage is built with ``objcopy -S``, so it has section
headers but no ``.symtab``; a build tree's vmlinux keeps it. Debian ships a
placeholder System.map (the real one is in the ``-dbg`` package), so every lookup
says which source it used and the image extent falls back to section headers.
"""
from __future__ import annotations

import bisect
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from harness.errors import BadInputError, ParseError

PAGE_SIZE = 4096
# The symbols that bound the kernel image (arch/x86/kernel/vmlinux.lds.S):
# early_reserve_memory reserves [_text, __end_of_kernel_reserve) and the brk.
EXTENT_SYMBOLS = ("_text", "_etext", "__bss_start", "__bss_stop",
                  "__end_of_kernel_reserve", "__brk_base", "__brk_limit", "_end")
_SYSTEM_MAP_LINE = re.compile(r"^([0-9a-fA-F]+) ([A-Za-z?]) (\S+)")
_TEXT_TYPES = frozenset("tTwW")
_BANNER = re.compile(rb"Linux version [^\x00\n]*\n?\x00")
_DEBIAN_PLACEHOLDER = "The real System.map is in"


@dataclass(frozen=True)
class Symbol:
    """One symbol: ``size`` is the distance to the next symbol, as ``%pS`` prints it."""

    name: str
    address: int
    size: int


@dataclass(frozen=True)
class SymbolTable:
    """Text symbols sorted by address, plus every symbol by name; ``source`` names the file."""

    source: str
    text: tuple[Symbol, ...]
    by_name: dict[str, int]

    def address(self, name: str) -> int:
        """The address of ``name``; ``BadInputError`` naming the source if absent."""
        try:
            return self.by_name[name]
        except KeyError:
            raise BadInputError(f"{self.source}: no symbol {name!r}") from None

    @functools.cached_property
    def _addresses(self) -> list[int]:
        return [sym.address for sym in self.text]

    def symbolize(self, address: int) -> str:
        """``func+0xoff/0xsize`` for a text address, or ``0x…`` if it is outside text."""
        index = bisect.bisect_right(self._addresses, address) - 1
        if index < 0 or address >= self.text[index].address + self.text[index].size:
            return f"{address:#x}"
        sym = self.text[index]
        return f"{sym.name}+{address - sym.address:#x}/{sym.size:#x}"


def _table(source: str, entries: list[tuple[int, str, bool]], text_end: int | None) -> SymbolTable:
    """Build a table from (address, name, is_text) entries."""
    by_name = {name: addr for addr, name, _ in entries}
    addrs = sorted({addr for addr, _, is_text in entries if is_text})
    text: list[Symbol] = []
    for addr, name, is_text in sorted(entries):
        if not is_text or (text and text[-1].address == addr):
            continue  # aliases: keep the first name at an address, as kallsyms does
        nxt = bisect.bisect_right(addrs, addr)
        end = addrs[nxt] if nxt < len(addrs) else (text_end or addr)
        text.append(Symbol(name, addr, end - addr))
    return SymbolTable(source, tuple(text), by_name)


def is_placeholder_system_map(path: Path) -> bool:
    """True for Debian's one-line stand-in that points at the -dbg package."""
    with path.open("r", encoding="ascii", errors="replace") as fh:
        return _DEBIAN_PLACEHOLDER in fh.read(256)


def read_system_map(path: Path) -> SymbolTable:
    """Parse ``System.map`` (``nm -n`` output: address, type letter, name)."""
    if is_placeholder_system_map(path):
        raise BadInputError(f"{path}: Debian placeholder System.map (symbols are in the -dbg package)")
    entries: list[tuple[int, str, bool]] = []
    with path.open("r", encoding="ascii", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            match = _SYSTEM_MAP_LINE.match(line)
            if match is None:
                raise ParseError(f"{path}: line {lineno}", f"not 'address type name': {line.strip()!r}")
            addr, kind, name = match.groups()
            entries.append((int(addr, 16), name, kind in _TEXT_TYPES))
    if not entries:
        raise ParseError(str(path), "no symbols")
    return _table(str(path), entries, dict((n, a) for a, n, _ in entries).get("_etext"))


def _open_elf(data: bytes, where: str) -> ELFFile:
    try:
        return ELFFile(io.BytesIO(data))
    except ELFError as err:
        raise ParseError(where, f"not an ELF file: {err}") from err


def elf_symbols(data: bytes, where: str) -> SymbolTable | None:
    """The ELF ``.symtab`` as a table, or None when the image is stripped."""
    elf = _open_elf(data, where)
    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection) or symtab.num_symbols() <= 1:
        return None
    entries = [(sym["st_value"], sym.name, sym["st_info"]["type"] == "STT_FUNC")
               for sym in symtab.iter_symbols() if sym.name]
    etext = next((a for a, n, _ in entries if n == "_etext"), None)
    return _table(f"{where}: .symtab", entries, etext)


def extent_from_sections(data: bytes, where: str) -> dict[str, int]:
    """The image-extent symbols derived from section headers, per the x86 linker script.

    ``.text`` starts at ``_text`` and ends at ``_etext``; ``.bss`` ends at ``__bss_stop``
    = ``__end_of_kernel_reserve``; ``.brk`` spans ``__brk_base``..``__brk_limit`` and
    ``_end`` is the next page boundary.
    """
    elf = _open_elf(data, where)
    sections = {name: elf.get_section_by_name(name) for name in (".text", ".bss", ".brk")}
    missing = [name for name, sec in sections.items() if sec is None]
    if missing:
        raise ParseError(where, f"no {', '.join(missing)} section: not an x86 vmlinux")
    text, bss, brk = (sections[n].header for n in (".text", ".bss", ".brk"))  # type: ignore[union-attr]
    brk_limit = brk["sh_addr"] + brk["sh_size"]
    return {
        "_text": text["sh_addr"],
        "_etext": text["sh_addr"] + text["sh_size"],
        "__bss_start": bss["sh_addr"],
        "__bss_stop": bss["sh_addr"] + bss["sh_size"],
        "__end_of_kernel_reserve": bss["sh_addr"] + bss["sh_size"],
        "__brk_base": brk["sh_addr"],
        "__brk_limit": brk_limit,
        "_end": -(-brk_limit // PAGE_SIZE) * PAGE_SIZE,
    }


@dataclass(frozen=True)
class ImageExtent:
    """Kernel image bounds (virtual addresses) and where they came from."""

    source: str
    symbols: dict[str, int]

    def __getitem__(self, name: str) -> int:
        return self.symbols[name]


def image_extent(vmlinux: bytes | None, system_map: Path | None, where: str) -> ImageExtent:
    """The extent symbols from .symtab, else System.map, else the section headers."""
    table = elf_symbols(vmlinux, where) if vmlinux is not None else None
    if table is None and system_map is not None and not is_placeholder_system_map(system_map):
        table = read_system_map(system_map)
    if table is not None:
        return ImageExtent(table.source, {n: table.address(n) for n in EXTENT_SYMBOLS})
    if vmlinux is None:
        raise BadInputError(f"{where}: neither a vmlinux nor a usable System.map to find _text/_end")
    return ImageExtent(f"{where}: section headers", extent_from_sections(vmlinux, where))


def linux_banner(data: bytes, where: str) -> str:
    """The ``linux_banner`` string (``Linux version …``) the kernel prints first.

    Since 6.1 a weak copy without the build number ("# SMP") sits beside the real one
    (init/version.c vs init/version-timestamp.c); the one with ``#<digit>`` wins.
    """
    table = elf_symbols(data, where)
    if table is not None and "linux_banner" in table.by_name:
        offset = _file_offset(_open_elf(data, where), table.by_name["linux_banner"])
        if offset is not None:
            return data[offset:data.index(b"\x00", offset)].decode("ascii", "replace").rstrip("\n")
    return find_banner(data, where)


def find_banner(data: bytes, where: str) -> str:
    """The banner found by scanning ``data``, for images without symbols."""
    found = [m.group(0).rstrip(b"\x00\n").decode("ascii", "replace") for m in _BANNER.finditer(data)]
    if not found:
        raise ParseError(where, "no 'Linux version' banner")
    numbered = [b for b in found if re.search(r" #\d", b)]
    return (numbered or found)[-1]


def _file_offset(elf: ELFFile, vaddr: int) -> int | None:
    for seg in elf.iter_segments():
        start = seg["p_vaddr"]
        if seg["p_type"] == "PT_LOAD" and start <= vaddr < start + seg["p_filesz"]:
            return int(seg["p_offset"] + vaddr - start)
    return None


def load_symbols(vmlinux: Path | None, system_map: Path | None) -> SymbolTable:
    """Symbols from the vmlinux .symtab if present, else from System.map."""
    if vmlinux is not None:
        table = elf_symbols(vmlinux.read_bytes(), str(vmlinux))
        if table is not None:
            return table
    if system_map is None:
        raise BadInputError(f"{vmlinux}: stripped and no System.map given: cannot symbolize")
    return read_system_map(system_map)
