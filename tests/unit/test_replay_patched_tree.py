"""Patch validation: the kernel engine runs the memblock.c of the tree it is given."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.analysis.replay import replay
from harness.logparse import load_boot_log
from kernels.source import source_tree

LOG = Path(__file__).parents[2] / "fixtures/logs/qemu-6.1-three-node.log"  # top-down boot


@pytest.fixture(scope="module")
def stock_tree() -> Path:
    """Debian's 6.1 tree, fetched and unpacked here if no other test has done it yet."""
    return source_tree("6.1")


@pytest.fixture
def patched_tree(stock_tree: Path, tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    # Hard links: a whole tree in a second; the one patched file gets its own copy.
    subprocess.run(["cp", "-al", str(stock_tree), str(tree)], check=True)
    memblock = tree / "mm/memblock.c"
    text = memblock.read_text()
    memblock.unlink()
    # The "patch": always search bottom-up, as if movable_node were on.
    memblock.write_text(text.replace("\tif (memblock_bottom_up())\n\t\treturn __memblock_find_range_bottom_up",
                                     "\tif (1)\n\t\treturn __memblock_find_range_bottom_up", 1))
    assert memblock.read_text() != text
    return tree


def test_patched_tree_changes_the_prediction(stock_tree: Path, patched_tree: Path) -> None:
    log = load_boot_log(LOG)
    stock = replay(log, "kernel", stock_tree)
    patched = replay(log, "kernel", patched_tree)
    assert stock.matched == stock.allocations
    assert patched.matched < patched.allocations  # the kernel did not run this patch
