"""The zone model of virtio-mem's memory blocks (mm/memory_hotplug.c zone_for_pfn_range and
the auto-movable ratio) and of its unplug order, on hand-computed cases."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.virtio_mem_model import _Zones, predict_virtio_mem, zone_words
from harness.scenario.schema import load_scenario
from kernels.profile import HotplugRules, profile_for

M = 1 << 20
GIB_PAGES = (1 << 30) // 4096
SCENARIO = """
name = "m"
[machine]
cpus = 2
maxmem = "6G"
nodes = [{{ memory = "1G", cpus = [0] }}, {{ memory = "1G", cpus = [1] }}]
[[virtio_mem]]
id = "vm0"
node = 1
size = "2G"
[kernel]
cmdline = "{cmdline}"
[[actions]]
id = "plug"
do = "virtio_mem_resize"
device = "vm0"
requested_size = "1536M"
{more}
"""
PIN_AND_UNPLUG = """
[[actions]]
id = "pin"
do = "slab_pin"
cpu = 1
files = 10
[[actions]]
id = "shrink"
do = "virtio_mem_resize"
device = "vm0"
requested_size = "{size}"
"""


def _predict(tmp_path: Path, cmdline: str, more: str = "", version: HotplugRules = profile_for("6.1").profile.hotplug,
             ) -> dict[str, tuple[str, str]]:
    (tmp_path / "s.toml").write_text(SCENARIO.format(cmdline=cmdline, more=more))
    zones = _Zones({0: GIB_PAGES, 1: GIB_PAGES}, {})
    out = predict_virtio_mem(load_scenario(tmp_path / "s.toml"), cmdline, version, zones)
    return {k: (p.outcome, zone_words(p.zones)) for k, p in out.items()}


def test_the_kernels_defaults_without_memhp_default_state(tmp_path: Path) -> None:
    """The command line is read by the one port DIMMs and CXL use (online_policy.hotplug_config)."""
    assert _predict(tmp_path, "")["plug"] == ("uncertain", "no online block")  # 6.1: offline
    assert _predict(tmp_path, "", version=profile_for("6.12").profile.hotplug)["plug"][1] == f"Normal {1536 * M:#x}"
    # setup_memhp_default_state: each occurrence overrides; a bad value is ignored.
    bad_last = "memhp_default_state=online_movable memhp_default_state=bogus"
    assert _predict(tmp_path, bad_last)["plug"][1] == f"Movable {1536 * M:#x}"


def test_an_invalid_boolean_leaves_numa_awareness_on(tmp_path: Path) -> None:
    """kernel/params.c param_set_bool: kstrtobool's -EINVAL keeps the default (true), as
    for DIMMs; virtio-mem's own parser once read it as false."""
    cmdline = "memhp_default_state=online memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=100"
    assert _predict(tmp_path, cmdline + " memory_hotplug.auto_movable_numa_aware=bogus")["plug"] == \
        _predict(tmp_path, cmdline)["plug"]


@pytest.mark.parametrize(("cmdline", "zones"), [
    ("memhp_default_state=online_movable", "Movable 0x60000000"),
    ("memhp_default_state=online_kernel", "Normal 0x60000000"),
    ("memhp_default_state=online", "Normal 0x60000000"),  # contig-zones: a kernel zone ...
    ("memhp_default_state=online movable_node", "Movable 0x60000000"),  # ... unless movable_node
    ("memhp_default_state=offline", "no online block"),
])
def test_the_online_type_decides_the_zone(tmp_path: Path, cmdline: str, zones: str) -> None:
    assert _predict(tmp_path, cmdline)["plug"][1] == zones


def test_the_auto_movable_ratio_per_node_with_the_groups_own_kernel_memory(tmp_path: Path) -> None:
    # ratio 100 on node 1's 262144 kernel pages: 8 blocks movable; the 9th would exceed it
    # and goes Normal, which allows the 10th movable again; the 11th Normal, the 12th movable.
    cmdline = "memhp_default_state=online memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=100"
    assert _predict(tmp_path, cmdline)["plug"] == ("success", f"Movable {1280 * M:#x}, Normal {256 * M:#x}")
    # Without the per-node check only the system counts: 1.5G <= 2G of kernel memory.
    aware_off = cmdline + " memory_hotplug.auto_movable_numa_aware=0"
    assert _predict(tmp_path, aware_off)["plug"][1] == f"Movable {1536 * M:#x}"
    # Ratio 0: auto_movable_zone_for_pfn goes straight to the kernel zone.
    assert _predict(tmp_path, cmdline.replace("=100", "=0"))["plug"][1] == f"Normal {1536 * M:#x}"


def test_unplug_takes_movable_blocks_first_and_stops_at_pinned_kernel_blocks(tmp_path: Path) -> None:
    cmdline = "memhp_default_state=online memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=100"
    # Down to 1G: 4 of the 10 movable blocks go, the 2 Normal ones stay.
    assert _predict(tmp_path, cmdline, PIN_AND_UNPLUG.format(size="1G"))["shrink"] == (
        "success", f"Movable {768 * M:#x}, Normal {256 * M:#x}")
    # To 0 the Normal blocks must go too: slab pinned on their node stops it.
    assert _predict(tmp_path, cmdline, PIN_AND_UNPLUG.format(size="0"))["shrink"] == ("failure", "not known")
    unpinned = PIN_AND_UNPLUG.format(size="0").replace("cpu = 1", "cpu = 0")
    assert _predict(tmp_path, cmdline, unpinned)["shrink"] == ("uncertain", "no online block")


def test_big_block_mode_is_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIO.format(cmdline="memhp_default_state=online_movable", more="")
                                     .replace('size = "2G"', 'size = "2G"\nblock_size = "256M"'))
    zones = _Zones({0: GIB_PAGES, 1: GIB_PAGES}, {})
    (prediction,) = predict_virtio_mem(load_scenario(tmp_path / "s.toml"), "", profile_for("6.1").profile.hotplug, zones).values()
    assert (prediction.outcome, prediction.zones) == ("uncertain", None)
