"""Symbols from System.map and ELF .symtab, banner, image extent (incl. Debian's stripped 6.1,
the one scripts/setup fetches into memhp's kernel cache)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import kernels
from harness.errors import BadInputError, ParseError
from kernels import bzimage, elfinfo
from kernels.kernel import Kernel

START_KERNEL_MAP = 0xFFFFFFFF80000000  # __START_KERNEL_map: virtual = physical + this (nokaslr)

SYSTEM_MAP = """\
ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81000070 T secondary_startup_64
ffffffff81001000 t memblock_add_range
ffffffff81001200 T e820__memblock_setup
ffffffff81001282 T _etext
ffffffff82000000 D linux_banner
ffffffff83000000 B __bss_start
ffffffff83100000 B __bss_stop
ffffffff83100000 B __end_of_kernel_reserve
ffffffff83100000 B __brk_base
ffffffff83110000 B __brk_limit
ffffffff83110000 B _end
"""


@pytest.fixture
def system_map(tmp_path: Path) -> Path:
    path = tmp_path / "System.map"
    path.write_text(SYSTEM_MAP)
    return path


def test_system_map_symbolize_matches_pS_format(system_map: Path) -> None:
    table = elfinfo.read_system_map(system_map)
    # size = distance to the next text symbol, as kallsyms computes it for %pS
    assert table.symbolize(0xFFFFFFFF8100126D) == "e820__memblock_setup+0x6d/0x82"
    assert table.symbolize(0xFFFFFFFF81001004) == "memblock_add_range+0x4/0x200"
    # aliases at one address: the first name wins
    assert table.symbolize(0xFFFFFFFF81000010) == "_text+0x10/0x70"
    assert table.symbolize(0xFFFFFFFF82000000) == "0xffffffff82000000"  # data, not text
    assert table.address("__bss_stop") == 0xFFFFFFFF83100000


def test_extent_from_system_map(system_map: Path) -> None:
    extent = elfinfo.image_extent(None, system_map, "k")
    assert extent.source == str(system_map)
    assert extent["_text"] == 0xFFFFFFFF81000000
    assert extent["_end"] == 0xFFFFFFFF83110000


def test_missing_symbol_names_source(system_map: Path) -> None:
    with pytest.raises(BadInputError, match=r"System.map: no symbol 'nope'"):
        elfinfo.read_system_map(system_map).address("nope")


def test_bad_system_map_line_names_line(tmp_path: Path) -> None:
    path = tmp_path / "System.map"
    path.write_text(SYSTEM_MAP + "garbage\n")
    with pytest.raises(ParseError, match=r"System.map: line 14: not 'address type name'"):
        elfinfo.read_system_map(path)


def test_debian_placeholder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "System.map-6.1.0-47-amd64"
    path.write_text("ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n")
    assert elfinfo.is_placeholder_system_map(path)
    with pytest.raises(BadInputError, match="placeholder"):
        elfinfo.read_system_map(path)


ASM = r"""
    .text
    .globl _text, f_one, f_two, _etext, linux_banner
_text:
    .type f_one, @function
f_one: nop
    .fill 15, 1, 0x90
    .size f_one, 16
    .type f_two, @function
f_two: ret
    .fill 31, 1, 0xcc
    .size f_two, 32
_etext:
    .section .rodata
    .asciz "Linux version 9.9.9-real (b@h) #7 SMP\n"
linux_banner:
    .asciz "Linux version 9.9.9-weak (b@h) # SMP\n"
"""


@pytest.fixture
def elf_with_symtab(tmp_path: Path) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    src = tmp_path / "k.s"
    src.write_text(ASM)
    out = tmp_path / "k.elf"
    subprocess.run(["gcc", "-nostdlib", "-static", "-Wl,-e,f_one", "-o", str(out), str(src)], check=True)
    return out.read_bytes()


def test_symtab_is_preferred_and_symbolizes(elf_with_symtab: bytes) -> None:
    table = elfinfo.elf_symbols(elf_with_symtab, "k.elf")
    assert table is not None
    base = table.address("f_one")
    assert table.symbolize(base + 0x13) == "f_two+0x3/0x20"
    assert table.symbolize(base + 0x5) == "f_one+0x5/0x10"


def test_banner_follows_linux_banner_symbol(elf_with_symtab: bytes) -> None:
    # The symbol names the weak copy here, so the symbol path, not the heuristic, chose it.
    assert elfinfo.linux_banner(elf_with_symtab, "k.elf") == "Linux version 9.9.9-weak (b@h) # SMP"


def test_banner_heuristic_prefers_build_number() -> None:
    data = b"\0Linux version 6.1.0-x (b@h) # SMP\n\0Linux version 6.1.0-x (b@h) #1 SMP\n\0"
    assert elfinfo.find_banner(data, "blob") == "Linux version 6.1.0-x (b@h) #1 SMP"


@pytest.fixture(scope="module")
def debian_61() -> Kernel:
    """The Debian 6.1 kernel in memhp's cache (scripts/setup fetched it; fetched if not)."""
    return kernels.resolve("debian:6.1")


def test_debian_61_stripped_vmlinux_uses_sections(debian_61: Kernel) -> None:
    vmlinux = bzimage.extract_vmlinux(debian_61.bzimage)
    assert elfinfo.elf_symbols(vmlinux, "vmlinux") is None
    assert elfinfo.linux_banner(vmlinux, "vmlinux").startswith(f"Linux version {debian_61.release} (")
    # Debian ships a placeholder System.map (the Kernel drops it); image_extent must ignore it too.
    map_file = debian_61.bzimage.with_name("System.map")
    placeholder = map_file if map_file.is_file() else None
    extent = elfinfo.image_extent(vmlinux, placeholder, "vmlinux")
    assert extent.source == "vmlinux: section headers"
    # fixtures/logs/qemu-6.1-three-node.log (6.1.0-47, nokaslr) and the recorded/ 6.1.0-56 boots
    # reserve the image as reserved[0x2] [0x1000000-0x4410fff]: [_text, __end_of_kernel_reserve)
    # plus the used brk; the cached 6.1 build's extent brackets it.
    assert extent["_text"] - START_KERNEL_MAP == 0x1000000
    assert extent["__end_of_kernel_reserve"] - START_KERNEL_MAP <= 0x4411000
    assert 0x4411000 <= extent["_end"] - START_KERNEL_MAP


def test_stripped_vmlinux_without_map_cannot_symbolize(tmp_path: Path, debian_61: Kernel) -> None:
    vmlinux = bzimage.write_vmlinux(debian_61.bzimage, tmp_path / "vmlinux")
    with pytest.raises(BadInputError, match="stripped and no System.map"):
        elfinfo.load_symbols(vmlinux, None)


def test_no_banner_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="blob: no 'Linux version' banner"):
        elfinfo.find_banner(b"\x7fELF nothing here", "blob")
