"""The kernel engine's build reads its API from the tree and refuses what is no kernel tree."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.memblock.engines import KernelEngine
from harness.memblock.kernel_engine.build import (
    TreeApi,
    build_key,
    build_replay_driver,
    tree_api,
    tree_release,
)
from kernels.source import source_tree


def test_a_directory_that_is_no_kernel_tree_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "mm").mkdir()
    with pytest.raises(BadInputError, match=f"{tmp_path}: not a kernel tree.*mm/memblock.c"):
        build_replay_driver(tmp_path)
    with pytest.raises(BadInputError, match=str(tmp_path)):
        KernelEngine(tree=tmp_path)


def _copy_tree(tree: Path, into: Path) -> Path:
    """The files the build reads, so that a test can patch them."""
    into.mkdir()
    shutil.copy(tree / "Makefile", into / "Makefile")
    for rel in ("mm", "include/linux", "tools/testing/memblock", "tools/include", "tools/lib",
                "tools/arch/x86/include"):
        shutil.copytree(tree / rel, into / rel, symlinks=True)
    return into


def test_the_api_comes_from_the_tree_not_its_version(tmp_path: Path) -> None:
    """A 7.3 tree patched to drop memblock_alloc_hugetlb builds without it, and says so."""
    tree = _copy_tree(source_tree("7.3"), tmp_path / "patched")
    assert tree_api(tree) == TreeApi(reserve_nid=True, kho_scratch=True, alloc_hugetlb=True)
    header = tree / "include/linux/memblock.h"
    text = header.read_text()
    header.write_text(text.replace("void *memblock_alloc_hugetlb(phys_addr_t size, int nid, bool exact_nid);",
                                   ""))
    source = tree / "mm/memblock.c"
    text = source.read_text()
    start = text.index("void * __init memblock_alloc_hugetlb(")
    end = text.index("\n}\n", start) + 3
    source.write_text(text[:start] + text[end:])
    assert tree_api(tree) == TreeApi(reserve_nid=True, kho_scratch=True, alloc_hugetlb=False)
    with KernelEngine(tree=tree) as engine:
        assert engine.release == tree_release(source_tree("7.3")) and engine.release.startswith("7.3.")
        assert engine.add(0, 1 << 24) == 0
        with pytest.raises(BadInputError, match="alloc_hugetlb"):
            engine.alloc_hugetlb(1 << 21, 0, False)
        assert engine.reserve_kern(0x1000, 0x1000) == 0
        assert [(r.flags, r.nid) for r in engine.state().reserved.regions] == [(0x20, -1)]


def test_the_release_is_the_tree_makefiles(tmp_path: Path) -> None:
    tree = _copy_tree(source_tree("6.12"), tmp_path / "t")
    assert tree_release(tree).startswith("6.12.")
    (tree / "Makefile").write_text("# no version here\n")
    with pytest.raises(BadInputError, match=f"{tree / 'Makefile'}: no VERSION"):
        tree_release(tree)


def test_a_patched_stub_header_rebuilds(tmp_path: Path) -> None:
    """The build key covers the simulator's stub headers, not only memblock.c."""
    tree = _copy_tree(source_tree("7.3"), tmp_path / "t")
    before = build_key(tree, 10)
    stub = tree / "tools/testing/memblock/linux/kexec_handover.h"
    stub.write_text(stub.read_text() + "\n/* patched */\n")
    assert build_key(tree, 10) != before
