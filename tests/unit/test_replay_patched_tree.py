"""Patch validation: the kernel engine runs the memblock.c of the tree it is given."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.analysis.replay import replay
from harness.logparse import load_boot_log
from harness.memblock.kernel_engine.build import SOURCE_ROOT

LOG = Path(__file__).parents[2] / "fixtures/logs/qemu-6.1-three-node.log"  # top-down boot
TREE = SOURCE_ROOT / "linux-source-6.1"


@pytest.fixture
def patched_tree(tmp_path: Path) -> Path:
    if not (TREE / "mm/memblock.c").is_file():
        pytest.skip(f"{TREE} not unpacked (scripts/setup installs linux-source-6.1; "
                    "the differential tests unpack it)")
    tree = tmp_path / "linux"
    # Hard links: a whole tree in a second; the one patched file gets its own copy.
    subprocess.run(["cp", "-al", str(TREE), str(tree)], check=True)
    memblock = tree / "mm/memblock.c"
    text = memblock.read_text()
    memblock.unlink()
    # The "patch": always search bottom-up, as if movable_node were on.
    memblock.write_text(text.replace("\tif (memblock_bottom_up())\n\t\treturn __memblock_find_range_bottom_up",
                                     "\tif (1)\n\t\treturn __memblock_find_range_bottom_up", 1))
    assert memblock.read_text() != text
    return tree


def test_patched_tree_changes_the_prediction(patched_tree: Path) -> None:
    log = load_boot_log(LOG)
    stock = replay(log, "kernel", TREE)
    patched = replay(log, "kernel", patched_tree)
    assert stock.matched == stock.allocations
    assert patched.matched < patched.allocations  # the kernel did not run this patch
