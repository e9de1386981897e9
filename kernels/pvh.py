"""PVH boot: QEMU loads the ELF vmlinux and enters it at its PVH entry point.

A bzImage spends most of a TCG boot in its decompressor (Debian's is xz: ~5 s here before
the kernel's first line); the vmlinux the cache extracted from it starts at once. The
kernel is the same; the path into it is not: no real-mode setup and no decompressor (so
none of its KASLR placement), the memory map comes from QEMU's PVH start info, to which
the kernel adds the ISA hole as reserved (arch/x86/platform/pvh/enlighten.c
init_pvh_bootparams), and QEMU's PVH loader places the initrd elsewhere (32 KiB lower
here). The bzImage stays the default.
"""
from __future__ import annotations

from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.segments import NoteSegment

from harness.errors import BadInputError
from kernels.kernel import BOOT_MODES, Kernel
# include/xen/interface/elfnote.h; arch/x86/platform/pvh/head.S emits it (CONFIG_PVH), and
# QEMU's -kernel takes an ELF as PVH only with it (hw/i386/x86.c load_elfboot).
XEN_ELFNOTE_PHYS32_ENTRY = 18


def has_pvh_entry(vmlinux: Path) -> bool:
    """Whether the ELF ``vmlinux`` carries the Xen PHYS32_ENTRY note."""
    try:
        with open(vmlinux, "rb") as fh:
            for segment in ELFFile(fh).iter_segments("PT_NOTE"):
                assert isinstance(segment, NoteSegment)  # pyelftools' class for PT_NOTE
                for note in segment.iter_notes():
                    # pyelftools names the types it knows (GNU's, for any owner), else the number
                    n_type: object = note["n_type"]
                    if note["n_name"] == "Xen" and n_type == XEN_ELFNOTE_PHYS32_ENTRY:
                        return True
    except (ELFError, OSError) as err:
        raise BadInputError(f"{vmlinux}: cannot read its ELF notes: {err}") from None
    return False


def boot_image(kernel: Kernel, boot: str) -> Path:
    """The file QEMU's ``-kernel`` gets for ``boot`` (``bzimage`` or ``pvh``)."""
    if boot not in BOOT_MODES:
        raise BadInputError(f"--boot: expected {' or '.join(BOOT_MODES)}, not {boot!r}")
    if boot == "bzimage":
        return kernel.bzimage
    if kernel.vmlinux is None:
        raise BadInputError(f"kernel {kernel.spec}: --boot pvh needs its vmlinux and there is none")
    if not has_pvh_entry(kernel.vmlinux):
        raise BadInputError(f"{kernel.vmlinux}: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): "
                            "built without CONFIG_PVH; boot it as a bzImage")
    return kernel.vmlinux
