"""The port of mm/memory_hotplug.c's zone choice for hot-added DIMMs and memmap_on_memory,
held to the numbers of the real two-node boots (fixtures/scenarios/two-node-auto-movable.toml:
node 1's DMA32 present 131040 pages in the guest's /proc/zoneinfo, on 6.1 and 6.12)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.dimm_timeline import MEMMAP_SELF, DimmTimeline
from harness.analysis.online_policy import (
    HotplugConfig,
    MemmapMode,
    OnlinePolicy,
    ZonePages,
    boot_zone_pages,
    can_online_movable,
    hotplug_config,
    kstrtobool,
    vmemmap_pages_per_block,
    zone_for_dimm,
)
from harness.analysis.simulate import simulate
from harness.errors import BadInputError
from harness.scenario.schema import Dimm, load_scenario
from kernels.profile import HotplugRules, MemmapOnMemory, OnlineType, profile_for

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "scenarios"
V61, V612 = profile_for("6.1").profile.hotplug, profile_for("6.12").profile.hotplug
MIB = 1 << 20
# What the guest's /proc/zoneinfo showed before any DIMM: node 0 DMA 3998 + DMA32 258048,
# node 1 DMA32 131040 present pages (the top 128K below 4G is e820-reserved).
STATS = {0: ZonePages(3998 + 258048, 0), 1: ZonePages(131040, 0)}
AUTO = "memhp_default_state=online memory_hotplug.online_policy=auto-movable"


def test_the_last_valid_value_of_each_parameter_counts() -> None:
    config = hotplug_config(
        "memhp_default_state=online_movable memhp_default_state=bogus "
        "memory_hotplug.online_policy=auto-movable memory_hotplug.online_policy=nonsense "
        "memory_hotplug.auto_movable_ratio=150 memory_hotplug.auto_movable_ratio=-1 "
        "memory_hotplug.auto_movable_numa_aware=off movable_node", V61)
    assert config == HotplugConfig(OnlineType.ONLINE_MOVABLE, OnlinePolicy.AUTO_MOVABLE, 150, False,
                                   MemmapMode.DISABLE, True, MemmapOnMemory.SINGLE_BLOCK)


def test_debian_default_online_differs_between_6_1_and_6_12() -> None:
    # 6.1: CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE unset; 6.12: MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO.
    assert hotplug_config("", V61).default_online_type is OnlineType.OFFLINE
    assert hotplug_config("", V612).default_online_type is OnlineType.ONLINE
    assert hotplug_config("", V612).auto_movable_ratio == 301
    assert hotplug_config("memhp_default_state=offline", V612).auto_online is False


@pytest.mark.parametrize(("value", "v61", "v612"), [
    ("1", MemmapMode.ENABLE, MemmapMode.ENABLE),
    ("y", MemmapMode.ENABLE, MemmapMode.ENABLE),
    ("force", MemmapMode.DISABLE, MemmapMode.FORCE),  # 6.1's bool parameter refuses it
    ("FORCE", MemmapMode.DISABLE, MemmapMode.FORCE),
    ("0", MemmapMode.DISABLE, MemmapMode.DISABLE),
])
def test_memmap_on_memory_values(value: str, v61: MemmapMode, v612: MemmapMode) -> None:
    option = f"memory_hotplug.memmap_on_memory={value}"
    assert (hotplug_config(option, V61).memmap_mode, hotplug_config(option, V612).memmap_mode) == (v61, v612)


def test_kstrtobool_reads_the_kernel_s_spellings() -> None:
    assert [kstrtobool(v) for v in ("Y", "1", "true", "on", "N", "0", "off", "of", "o", "maybe", "")] == \
        [True, True, True, True, False, False, False, False, None, None, None]


@pytest.mark.parametrize(("mode", "version", "size", "pages"), [
    ("1", V61, 128 * MIB, 512),     # one block: 2 MiB of struct page, a whole PMD
    ("1", V61, 256 * MIB, 0),       # 6.1: size == memory_block_size_bytes() only
    ("1", V612, 1024 * MIB, 512),   # 6.12: an altmap per block, any size
    ("force", V612, 128 * MIB, 512),  # pageblock_align(512) adds nothing at 128 MiB blocks
    ("0", V612, 128 * MIB, 0),
])
def test_vmemmap_pages_per_block(mode: str, version: HotplugRules, size: int, pages: int) -> None:
    config = hotplug_config(f"memory_hotplug.memmap_on_memory={mode}", version)
    assert vmemmap_pages_per_block(config, size, 128 * MIB) == pages


def test_boot_present_pages_round_inwards_and_split_at_zone_movable() -> None:
    ranges = {0: [(0x1000, 0x9f000), (0x100000, 0x40000000)], 1: [(0x40000000, 0x5ffe0000)]}
    assert boot_zone_pages(ranges, {}) == STATS
    split = boot_zone_pages({1: [(0x100000000, 0x140000000)]}, {1: 0x120000000})
    assert split == {1: ZonePages(0x20000, 0x20000)}


def test_the_ratio_is_checked_against_all_nodes_then_the_dimm_s_node() -> None:
    config = hotplug_config(AUTO, V61)
    limit = 301 * 131040 // 100  # 394430 pages of ZONE_MOVABLE allowed on node 1
    assert can_online_movable(config, STATS, 1, limit)
    assert not can_online_movable(config, STATS, 1, limit + 1)
    assert can_online_movable(config, STATS, None, limit + 1)
    assert not can_online_movable(config, {2: ZonePages(0, 0)}, 2, 1)  # no boot kernel memory


@pytest.mark.parametrize(("extra", "zones"), [
    ("", ["Movable", "Normal", "Movable"]),  # measured on 6.1 and 6.12
    ("memory_hotplug.auto_movable_numa_aware=0", ["Movable", "Movable", "Movable"]),
    ("memory_hotplug.auto_movable_ratio=0", ["Normal", "Normal", "Normal"]),
    ("memory_hotplug.auto_movable_ratio=100", ["Normal", "Normal", "Movable"]),
])
def test_auto_movable_decides_per_dimm(extra: str, zones: list[str]) -> None:
    timeline = DimmTimeline.of(hotplug_config(f"{AUTO} {extra}", V612), STATS, {}, {},
                               (0x100000000, 0x300000000))
    dimms = [Dimm(id="d0", size="1G", node=1), Dimm(id="d1", size="1G", node=1),
             Dimm(id="d2", size="128M", node=1)]
    assert [timeline.add(d).zone for d in dimms] == zones


@pytest.mark.parametrize(("cmdline", "zone"), [
    ("memhp_default_state=online", "Normal"),
    ("memhp_default_state=online movable_node", "Movable"),
    ("memhp_default_state=online_kernel movable_node", "Normal"),
    ("memhp_default_state=online_movable", "Movable"),
    ("", "offline"),
])
def test_contig_zones_and_the_explicit_online_types(cmdline: str, zone: str) -> None:
    config = hotplug_config(cmdline, V61)
    assert zone_for_dimm(config, STATS, [], 1, 0x100000000, 1 << 30) == zone


def test_a_lone_normal_dimm_holds_a_later_dimm_s_memmap_until_it_goes() -> None:
    timeline = DimmTimeline.of(hotplug_config(AUTO, V61), STATS, {}, {}, (0x100000000, 0x300000000))
    d0, d1, d2 = (timeline.add(Dimm(id=i, size=s, node=1)) for i, s in (("d0", "1G"), ("d1", "1G"), ("d2", "256M")))
    assert [d.start for d in (d0, d1, d2)] == [0x100000000, 0x140000000, 0x180000000]
    assert (d0.memmap_in, d1.memmap_in, d2.memmap_in) == ("node 1 kernel memory",) * 2 + ("d1",)
    assert timeline.remove("d1")[0] == "failure"
    assert timeline.remove("d2") == ("success", "DIMM onlined movable")
    assert timeline.remove("d1")[0] == "uncertain"
    assert timeline.remove("d1")[0] == "uncertain"  # the first try may have taken it
    assert timeline.remove("d0")[0] == "success" and timeline.remove("d0")[0] == "failure"


def test_memmap_on_memory_frees_the_normal_dimm() -> None:
    timeline = DimmTimeline.of(hotplug_config(f"{AUTO} memory_hotplug.memmap_on_memory=1", V61),
                               STATS, {}, {}, (0x100000000, 0x300000000))
    placed = [timeline.add(Dimm(id=i, size=s, node=1)) for i, s in (("d0", "1G"), ("d1", "1G"), ("d2", "128M"))]
    assert [d.memmap_in for d in placed] == ["node 1 kernel memory", "node 1 kernel memory", MEMMAP_SELF]
    assert [d.vmemmap_pages for d in placed] == [0, 0, 512]
    assert timeline.remove("d1")[0] == "uncertain"


@pytest.mark.parametrize(("kernel", "vmemmap"), [("debian:6.1", [0, 0, 512]), ("debian:6.12", [4096, 4096, 512])])
def test_simulate_names_where_each_memmap_went(kernel: str, vmemmap: list[int]) -> None:
    prediction = simulate(load_scenario(SCENARIOS / "two-node-memmap-on-memory.toml"), kernel)
    assert [(d.dimm, d.zone) for d in prediction.dimms] == [("d0", "Movable"), ("d1", "Normal"), ("d2", "Movable")]
    assert [d.vmemmap_pages for d in prediction.dimms] == vmemmap
    outcomes = {a.id: a.outcome for a in prediction.actions}
    assert outcomes["remove-d1"] == "uncertain" and outcomes["remove-d2"] == "success"


def test_simulate_predicts_the_pinned_normal_dimm() -> None:
    for kernel in ("debian:6.1", "debian:6.12"):
        outcomes = {a.id: a.outcome for a in simulate(load_scenario(SCENARIOS / "two-node-auto-movable.toml"),
                                                        kernel).actions}
        assert (outcomes["remove-d1"], outcomes["remove-d2"], outcomes["remove-d0"]) == \
            ("failure", "success", "success"), kernel


def test_a_zone_expectation_needs_a_dimm_add(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text((SCENARIOS / "two-node-auto-movable.toml").read_text()
                    .replace('{ dimm = "d2", zone = "Movable" }', '{ dimm = "d3", zone = "Movable" }'))
    with pytest.raises(BadInputError, match=r"x.toml: .*dimm_zones\[2\]: no dimm_add action adds 'd3'"):
        load_scenario(path)
    path.write_text((SCENARIOS / "two-node-auto-movable.toml").read_text().replace('zone = "Normal"', 'zone = "Norm"'))
    with pytest.raises(BadInputError, match=r"x.toml: expect.dimm_zones\[1\].zone: Input should be .Movable., .Normal."):
        load_scenario(path)


def test_contig_zones_inherits_a_zone_whose_span_covers_the_range() -> None:
    """default_zone_for_pfn: a DIMM between two Normal DIMMs lies inside ZONE_NORMAL's span."""
    from harness.analysis.online_policy import ZoneSpan
    config = hotplug_config("memhp_default_state=online movable_node", V61)
    spans = [ZoneSpan(1, "Normal", 0x100000000, 0x140000000), ZoneSpan(1, "Normal", 0x180000000, 0x1c0000000)]
    assert zone_for_dimm(config, STATS, spans, 1, 0x140000000, 1 << 30) == "Normal"
    assert zone_for_dimm(config, STATS, spans, 1, 0x1c0000000, 1 << 30) == "Movable"


def test_a_guest_write_to_auto_online_blocks_changes_the_next_dimm_s_zone(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "two-node-auto-movable.toml")
    text = (SCENARIOS / "two-node-auto-movable.toml").read_text()
    changed = text.replace('[[actions]]\nid = "add-d1"', '[[actions]]\nid = "set-offline"\ndo = "guest_setting"\n'
                           'setting = "auto_online_blocks"\nvalue = "offline"\n\n[[actions]]\nid = "add-d1"', 1)
    path = tmp_path / "auto-online.toml"
    path.write_text(changed.replace('{ dimm = "d1", zone = "Normal" }', '{ dimm = "d1", zone = "offline" }'))
    prediction = simulate(load_scenario(path), "debian:6.12")
    assert [d.zone for d in prediction.dimms] == ["Movable", "offline", "offline"]
    assert [d.zone for d in simulate(scenario, "debian:6.12").dimms] == ["Movable", "Normal", "Movable"]


def test_the_kernels_own_config_decides_the_default_online_type() -> None:
    """CONFIG_MHP_DEFAULT_ONLINE_TYPE_* (6.12 on), CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE (6.1)."""
    from kernels.config import parse_config

    movable = parse_config("CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE=y\n", "t")
    old_online = parse_config("CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y\n", "t")
    offline = parse_config("# CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO is not set\n", "t")
    assert hotplug_config("", profile_for("7.3.4", movable).profile.hotplug).default_online_type \
        is OnlineType.ONLINE_MOVABLE
    assert profile_for("6.1.0", old_online).profile.hotplug.default_online is OnlineType.ONLINE
    assert profile_for("6.12.1", offline).profile.hotplug.default_online is OnlineType.OFFLINE
