"""Build the replay driver against a kernel tree's own mm/memblock.c.

The recipe is tools/testing/memblock/Makefile's: mm/memblock.c is compiled through
a symlink next to the simulator's stub internal.h, with the simulator's and
tools/include headers, and linked with its DEP_OFILES (the stub lib/slab.o and
mmzone.o, tools/lib/slab.o; 6.12 also tools/lib/cmdline.o). The build
lives in ``<cache>/kernel-engine/<hash>/``, keyed by the sources that go in.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from harness.errors import InfrastructureError
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


def _check_tree(tree: Path) -> None:
    missing = [rel for rel in _TREE_INPUTS if not (tree / rel).is_file()]
    if missing:
        raise InfrastructureError(f"{tree} is not a kernel tree with tools/testing/memblock: "
                                  f"missing {', '.join(missing)}")
    if not any(header.is_file() for header in URCU_HEADERS):
        raise InfrastructureError("urcu/uatomic.h missing: apt-get install liburcu-dev "
                                  "(tools/lib/slab.c needs it)")
    if shutil.which("gcc") is None:
        raise InfrastructureError("gcc not found: the kernel engine is built from C")


def build_key(tree: Path, nodes_shift: int) -> str:
    digest = hashlib.sha256(f"NODES_SHIFT={nodes_shift}\n".encode())
    for rel in _TREE_INPUTS:
        digest.update((tree / rel).read_bytes())
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
    units = {"replay_driver.o": work / "replay_driver.c", "sim_slab.o": sim / "lib/slab.c",
             "mmzone.o": sim / "mmzone.c", "slab.o": tree / "tools/lib/slab.c"}
    if (tree / "tools/lib/cmdline.c").is_file():
        units["cmdline.o"] = tree / "tools/lib/cmdline.c"
    commands = [["gcc", *cflags, "-c", str(src), "-o", str(work / obj)]
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
