"""Build the replay driver against a kernel tree's own mm/memblock.c.

The recipe is tools/testing/memblock/Makefile's: mm/memblock.c is compiled through
a symlink next to the simulator's stub internal.h, with the simulator's and
tools/include headers, and linked with its DEP_OFILES (the stub lib/slab.o and
mmzone.o, tools/lib/slab.o; 6.12 on also tools/lib/cmdline.o). The build
lives in ``<cache>/kernel-engine/<hash>/``, keyed by the sources that go in.

What the driver can call is read from the tree, not from a version number, because
a patched tree is what a patch validator gives (``tree_api``).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError, InfrastructureError
from harness.paths import cache_dir

HERE = Path(__file__).resolve().parent
DRIVER_SOURCES = ("replay_driver.c", "va_override.h")
URCU_HEADERS = (Path("/usr/include/urcu/uatomic.h"),
                Path("/usr/include/x86_64-linux-gnu/urcu/uatomic.h"))

# tree files whose content decides the build
_TREE_INPUTS = (
    "mm/memblock.c",
    "include/linux/memblock.h",
    "tools/testing/memblock/internal.h",
    "tools/testing/memblock/lib/slab.c",
    "tools/testing/memblock/mmzone.c",
    "tools/lib/slab.c",
)


@dataclass(frozen=True)
class TreeApi:
    """The memblock functions a tree's include/linux/memblock.h declares beyond 6.1's."""

    # __memblock_reserve(base, size, nid, flags) and memblock_reserve_kern()
    reserve_nid: bool
    # memblock_mark_kho_scratch() / memblock_clear_kho_scratch()
    kho_scratch: bool
    # memblock_alloc_hugetlb(size, nid, exact_nid)
    alloc_hugetlb: bool

    def defines(self) -> list[str]:
        """The driver's -D switches for the calls it may compile."""
        return [f"-DMEMHP_{name.upper()}" for name, present in vars(self).items() if present]


_RESERVE_NID = re.compile(r"\bint\s+__memblock_reserve\s*\([^)]*\bint\s+nid\b[^)]*\bflags\b")
_RESERVE_KERN = re.compile(r"\bmemblock_reserve_kern\s*\(")
_KHO_SCRATCH = re.compile(r"\bint\s+memblock_mark_kho_scratch\s*\(")
_ALLOC_HUGETLB = re.compile(r"\bmemblock_alloc_hugetlb\s*\(\s*phys_addr_t\s+\w+\s*,\s*int\s+nid")


def tree_api(tree: Path) -> TreeApi:
    """What ``tree``'s memblock.h offers (a bad tree is bad input, naming it)."""
    check_kernel_tree(tree)
    header = (tree / "include/linux/memblock.h").read_text(errors="replace")
    return TreeApi(
        reserve_nid=bool(_RESERVE_NID.search(header) and _RESERVE_KERN.search(header)),
        kho_scratch=bool(_KHO_SCRATCH.search(header)),
        alloc_hugetlb=bool(_ALLOC_HUGETLB.search(header)),
    )


_MAKEFILE_FIELD = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)\s*$", re.MULTILINE)


def tree_release(tree: Path) -> str:
    """``VERSION.PATCHLEVEL.SUBLEVEL`` from the tree's top Makefile: what a report names."""
    check_kernel_tree(tree)
    makefile = tree / "Makefile"
    fields = dict(_MAKEFILE_FIELD.findall(makefile.read_text(errors="replace"))) if makefile.is_file() else {}
    if "VERSION" not in fields or "PATCHLEVEL" not in fields:
        raise BadInputError(f"{makefile}: no VERSION/PATCHLEVEL lines (not a kernel tree's Makefile)")
    return ".".join(fields[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if k in fields)


def check_kernel_tree(tree: Path) -> None:
    """A tree that lacks the files the engine builds from is bad input (``replay --tree``
    names one), naming what it lacks."""
    missing = [rel for rel in _TREE_INPUTS if not (tree / rel).is_file()]
    if missing:
        raise BadInputError(f"{tree}: not a kernel tree with tools/testing/memblock "
                            f"(missing {', '.join(missing)})")


def _check_tree(tree: Path) -> None:
    check_kernel_tree(tree)
    if not any(header.is_file() for header in URCU_HEADERS):
        raise InfrastructureError("urcu/uatomic.h missing: apt-get install liburcu-dev "
                                  "(tools/lib/slab.c needs it)")
    if shutil.which("gcc") is None:
        raise InfrastructureError("gcc not found: the kernel engine is built from C")


def _key_inputs(tree: Path) -> list[Path]:
    """The tree files the build reads: the fixed inputs and every simulator stub header
    (7.3 added linux/kexec_handover.h, mm_init.h, …; a patched tree may change any)."""
    sim = tree / "tools/testing/memblock"
    stubs = sorted(p for p in sim.rglob("*.h") if p.is_file() and "tests" not in p.relative_to(sim).parts)
    return [tree / rel for rel in _TREE_INPUTS] + [p for p in stubs if p != sim / "internal.h"]


def build_key(tree: Path, nodes_shift: int) -> str:
    digest = hashlib.sha256(f"NODES_SHIFT={nodes_shift}\n".encode())
    for path in _key_inputs(tree):
        digest.update(str(path.relative_to(tree)).encode() + b"\0" + path.read_bytes())
    for name in DRIVER_SOURCES:
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def _stage(tree: Path, work: Path) -> None:
    """Lay out the build dir the way the simulator's Makefile lays out its own."""
    sim = tree / "tools/testing/memblock"
    links = {
        "memblock.c": tree / "mm/memblock.c",
        "internal.h": sim / "internal.h",
        "linux/memblock.h": tree / "include/linux/memblock.h",
        "asm/asm.h": tree / "tools/arch/x86/include/asm/asm.h",
        "asm/cmpxchg.h": tree / "tools/arch/x86/include/asm/cmpxchg.h",
    }
    for rel, target in links.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).symlink_to(target)
    shutil.copy(HERE / "replay_driver.c", work / "replay_driver.c")
    shutil.copy(HERE / "va_override.h", work / "linux" / "mm.h")


def _compile(tree: Path, work: Path, nodes_shift: int) -> None:
    sim = tree / "tools/testing/memblock"
    cflags = ["-O2", "-w", f"-I{work}", f"-I{sim}", f"-I{tree / 'tools/include'}",
              "-DCONFIG_PHYS_ADDR_T_64BIT", "-DCONFIG_NUMA", f"-DCONFIG_NODES_SHIFT={nodes_shift}"]
    driver_flags = tree_api(tree).defines()
    units = {"replay_driver.o": work / "replay_driver.c", "sim_slab.o": sim / "lib/slab.c",
             "mmzone.o": sim / "mmzone.c", "slab.o": tree / "tools/lib/slab.c"}
    if (tree / "tools/lib/cmdline.c").is_file():
        units["cmdline.o"] = tree / "tools/lib/cmdline.c"
    commands = [["gcc", *cflags, *(driver_flags if obj == "replay_driver.o" else []),
                 "-c", str(src), "-o", str(work / obj)]
                for obj, src in units.items()]
    commands.append(["gcc", "-o", str(work / "replay_driver"), *(str(work / o) for o in units)])
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, cwd=work)
        if result.returncode:
            raise InfrastructureError(f"building the kernel engine from {tree} failed: "
                                      f"{' '.join(command)}\n{result.stderr.strip()}")


def build_replay_driver(tree: Path, nodes_shift: int = 10) -> Path:
    """The replay driver binary for ``tree`` (built once per content hash)."""
    tree = tree.resolve()
    _check_tree(tree)
    out = cache_dir("kernel-engine") / build_key(tree, nodes_shift)
    binary = out / "replay_driver"
    if binary.is_file():
        return binary
    work = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _stage(tree, work)
        _compile(tree, work, nodes_shift)
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return binary
