"""Name the callers of a boot log that printed raw addresses (a kernel without KALLSYMS).

``%pS`` prints ``func+0xoff/0xsize`` only when the kernel has kallsyms; otherwise memblock's
debug lines end in bare addresses. The names go back into the text before parsing, because
the parser pairs each allocation request with the ``memblock_alloc_range_nid`` reservation
that answers it by the caller's name.
"""
from __future__ import annotations

import re
from pathlib import Path

from harness.userinput import SYMBOLS, check_file
from kernels.elfinfo import SymbolTable, load_symbols, read_system_map

# A memblock debug line whose %pS came out as an address: "... [a-b] ffffffff81234567".
# (?<![a-z]) not \b: "__memblock_reserve" (6.18 on) has no word boundary before "memblock_".
_RAW_CALLER = re.compile(r"^(?P<head>.*(?<![a-z])memblock_\w+: .*[ \]]) ?(?:0x)?(?P<addr>ffffffff[0-9a-f]{8})(?P<end>\r?)$",
                         re.MULTILINE)


def load_table(path: Path) -> SymbolTable:
    """A vmlinux with its symbol table, or a System.map."""
    # Checked here, read by kernels.elfinfo: a FIFO would hang it, a directory break it.
    check_file(path, SYMBOLS)
    with open(path, "rb") as fh:
        is_elf = fh.read(4) == b"\x7fELF"
    return load_symbols(path, None) if is_elf else read_system_map(path)


def symbolize_text(text: str, table: SymbolTable) -> str:
    """``text`` with every raw-address memblock caller replaced by ``func+0xoff/0xsize``."""
    return _RAW_CALLER.sub(
        lambda m: f"{m['head'].rstrip()} {table.symbolize(int(m['addr'], 16))}{m['end']}", text)
