"""Golden tests: each recorded log in fixtures/logs/ against its <name>.expected.json.

Regenerate after an intended change with
``python -m harness.analysis.golden fixtures/logs/*.log`` and review the diff.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.analysis.golden import expected_facts, expected_path
from harness.logparse import BootLog

# Hand-recorded boots and the harness's own scenario runs (recorded/).
LOGS = sorted((Path(__file__).parents[2] / "fixtures" / "logs").rglob("*.log"))


def test_there_are_recorded_logs() -> None:
    assert len(LOGS) >= 4


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_log_matches_expected(log: Path) -> None:
    path = expected_path(log)
    assert path.exists(), f"missing {path.name}: run python -m harness.analysis.golden {log}"
    assert expected_facts(log) == json.loads(path.read_text())


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_expected_boot_log_loads_back(log: Path) -> None:
    data = json.loads(expected_path(log).read_text())["boot_log"]
    assert BootLog.from_json(data).to_json() == data


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_recorded_log_is_fully_understood(log: Path) -> None:
    """Facts every clean recorded QEMU boot must yield (not just "same as last time")."""
    facts = json.loads(expected_path(log).read_text())["boot_log"]
    assert facts["unparsed_suspicious"] == 0
    assert facts["memblock_debug"] and len(facts["memblock_dumps"]) == 2
    assert facts["memory_block_size"] == 128 << 20
    assert facts["panic"] is None and facts["oopses"] == []
    # Only the exact-node sparse buffer may fail (a node all HOTPLUG under movable_node);
    # every answer lies below its max_addr when one was given.
    allocs = [op for op in facts["memblock_ops"] if "size" in op]
    assert allocs
    assert {op["func"] for op in allocs if op["result"] is None} <= {"memblock_alloc_exact_nid_raw"}
    for op in allocs:
        if op["result"] is not None and op["max_addr"] > 1:  # 0 and 1 mean "up to current_limit"
            assert op["result"]["end"] <= op["max_addr"], op


THREE_NODE = [p for p in LOGS if "three-node" in p.stem]


@pytest.mark.parametrize("log", THREE_NODE, ids=[p.stem for p in THREE_NODE])
def test_three_node_boot_has_three_nodes_in_srat_order(log: Path) -> None:
    facts = json.loads(expected_path(log).read_text())["boot_log"]
    assert facts["pxm_to_node"] == {"0": 0, "1": 1, "2": 2}
    assert [s["node"] for s in facts["srat_memory"]] == [0, 0, 1, 2, 2]


def test_refused_offline_and_eject_are_in_the_recorded_logs() -> None:
    """The harness's own runs hold the failure lines the hand recordings lack."""
    def failures(stem: str) -> list[str]:
        log = next(p for p in LOGS if p.stem == stem)
        return [f["kind"] for f in json.loads(expected_path(log).read_text())["boot_log"]["offline_failures"]]
    assert failures("memhp-6.1-three-node-no-movable-node") == ["page_dumped", "page_dumped"]
    assert failures("memhp-6.1-two-node-dimm-refused") == ["eject_disabled"]
    assert failures("memhp-6.1-three-node-movable") == []


def test_exact_nid_fails_on_a_hotplug_node_under_movable_node() -> None:
    """mm/sparse.c:sparse_buffer_init's exact-node buffer (memmap_alloc with exact_nid:
    memblock_alloc_exact_nid_raw) finds only HOTPLUG memory on node 2 and fails; each
    section then comes from arch/x86/mm/init_64.c:vmemmap_populate through
    mm/sparse-vmemmap.c:vmemmap_alloc_block_buf (memblock_alloc_try_nid_raw), whose
    memblock_alloc_range_nid falls back onto another node."""
    log = next(p for p in LOGS if p.stem == "qemu-6.1-srat-override-hotplug-n1n2-movable-node")
    ops = json.loads(expected_path(log).read_text())["boot_log"]["memblock_ops"]
    failed = [i for i, op in enumerate(ops) if "size" in op and op["result"] is None]
    assert [(ops[i]["func"], ops[i]["nid"]) for i in failed] == [("memblock_alloc_exact_nid_raw", 2)]
    fallback = ops[failed[0] + 1]
    assert fallback["caller_function"] == "vmemmap_populate" and fallback["result"]["end"] <= 0xC0000000


def test_kernel_612_has_no_pxm_apic_lines_but_a_mapping() -> None:
    log = next(p for p in LOGS if p.stem == "qemu-6.12-three-node")
    facts = json.loads(expected_path(log).read_text())["boot_log"]
    assert facts["pxm_apic"] == [] and facts["kernel_release"].startswith("6.12")
    assert facts["numa_nodes"][0]["merged"]["start"] == 0x1000  # 6.12 trims to DRAM start
