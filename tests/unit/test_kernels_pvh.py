"""memhp run --boot pvh: the vmlinux is booted only if it carries the PVH entry note."""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

import kernels
from harness.errors import BadInputError
from kernels.kernel import Kernel
from kernels.pvh import boot_image, has_pvh_entry

NOTE_ASM = """
    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 4, {note_type}
    .asciz "Xen"
    .balign 4
    .long 0x1000000
    .text
    .globl _start
_start: ret
"""


def _elf(tmp_path: Path, note_type: int) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (scripts/setup installs build-essential)")
    src, out = tmp_path / f"n{note_type}.s", tmp_path / f"n{note_type}.elf"
    src.write_text(NOTE_ASM.format(note_type=note_type))
    subprocess.run(["gcc", "-nostdlib", "-static", "-o", str(out), str(src)], check=True)
    return out


def _kernel(vmlinux: Path | None, tmp_path: Path) -> Kernel:
    return Kernel("local", tmp_path / "bzImage", None, None, vmlinux, "9.9.9", (9, 9), None, "local")


def test_a_xen_phys32_entry_note_is_a_pvh_kernel(tmp_path: Path) -> None:
    pvh = _elf(tmp_path, 18)
    assert has_pvh_entry(pvh)
    assert boot_image(_kernel(pvh, tmp_path), "pvh") == pvh
    assert boot_image(_kernel(pvh, tmp_path), "bzimage") == tmp_path / "bzImage"


def test_other_xen_notes_are_not(tmp_path: Path) -> None:
    """XEN_ELFNOTE_ENTRY (1) is the PV entry; only PHYS32_ENTRY (18) is PVH's."""
    plain = _elf(tmp_path, 1)
    assert not has_pvh_entry(plain)
    with pytest.raises(BadInputError, match="built without CONFIG_PVH; boot it as a bzImage"):
        boot_image(_kernel(plain, tmp_path), "pvh")


def test_no_vmlinux_no_elf_or_an_unknown_mode_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="--boot pvh needs its vmlinux"):
        boot_image(_kernel(None, tmp_path), "pvh")
    junk = tmp_path / "vmlinux"
    junk.write_bytes(b"not an ELF file at all")
    with pytest.raises(BadInputError, match=r"vmlinux: cannot read its ELF notes"):
        boot_image(_kernel(junk, tmp_path), "pvh")
    with pytest.raises(BadInputError, match="--boot: expected bzimage or pvh, not 'efi'"):
        boot_image(_kernel(junk, tmp_path), "efi")


def test_debians_61_kernel_boots_pvh_from_the_vmlinux_the_cache_extracted() -> None:
    kernel = kernels.resolve("debian:6.1")
    assert kernel.vmlinux is not None and boot_image(kernel, "pvh") == kernel.vmlinux
    stripped = dataclasses.replace(kernel, vmlinux=kernel.bzimage)  # a bzImage is no ELF
    with pytest.raises(BadInputError, match="cannot read its ELF notes"):
        boot_image(stripped, "pvh")
