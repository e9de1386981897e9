"""Golden tests: each recorded log in fixtures/logs/ against its <name>.expected.json.

Regenerate after an intended change with
``.venv/bin/python -m tools.golden fixtures/logs/*.log`` and review the diff.

The generated part is a snapshot of the parser; the ``facts`` header is not: written by
hand from the log's own lines (the SRAT's hotplug lines, the flags and node-tagged
reservations of the kernel's second MEMBLOCK dump, the Movable zone lines, the refusal
lines), each fact cites its lines, which are checked against the raw text here before the
parser and the pinning verdicts are held to them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tools.golden import FACTS, expected_facts, expected_path
from harness.analysis.pinning import hotplug_findings
from harness.logparse import BootLog, load_boot_log

# Hand-recorded boots and the harness's own scenario runs (recorded/).
LOGS = sorted((Path(__file__).parents[2] / "fixtures" / "logs").rglob("*.log"))


def test_there_are_recorded_logs() -> None:
    assert len(LOGS) >= 4


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_log_matches_expected(log: Path) -> None:
    path = expected_path(log)
    assert path.exists(), f"missing {path.name}: run .venv/bin/python -m tools.golden {log}"
    expected = json.loads(path.read_text())
    del expected[FACTS]
    assert expected_facts(log) == expected


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


# ---- the hand-written facts header -------------------------------------------------------

STAMP = re.compile(r"^\[\s*\d+\.\d+\] ")
RANGE = re.compile(r"\[(?:mem )?(0x[0-9a-f]+)-(0x[0-9a-f]+)\]")


def _raw_lines(log: Path) -> list[str]:
    """The log's physical lines without ``\\r`` and timestamp: no harness code involved."""
    return [STAMP.sub("", line.replace("\r", ""), count=1) for line in log.read_text(errors="replace").split("\n")]


def _header(log: Path) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(expected_path(log).read_text())[FACTS]
    return header


def _cites(header: dict[str, Any]) -> list[list[Any]]:
    out = [header["movable_zone_header"], header["next_after_movable"], *header["refusals"],
           *header["movable_zone_start"].values()]
    for node in header["hotplug"]:
        out += node["srat"] + node["dump"] + node.get("reserved_on_node", [])
        out += [pin["cite"] for pin in node.get("pinned_by", [])]
    return out


def _range(text: str) -> tuple[int, int]:
    first, last = RANGE.search(text).groups()  # type: ignore[union-attr]
    return int(first, 16), int(last, 16) + 1


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_every_fact_cites_lines_the_log_holds(log: Path) -> None:
    lines = _raw_lines(log)
    cites = _cites(_header(log))
    assert cites
    for number, text in cites:
        assert lines[number - 1] == text, (log.name, number)


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_the_facts_follow_from_their_lines(log: Path) -> None:
    """Each status is what its dump lines' flags say; each pin lies in a node-tagged
    reservation of that dump; the Movable section ends where the header says."""
    header = _header(log)
    for node in header["hotplug"]:
        assert all(text.endswith(" hotplug") and f"Node {node['node']} " in text for _, text in node["srat"])
        flags = {text.rsplit("flags: ", 1)[1] for _, text in node["dump"]}
        assert node["status"] == {frozenset(): "no_boot_memory", frozenset({"0x1"}): "honoured",
                                  frozenset({"0x0"}): "cleared"}.get(frozenset(flags), "partial")
        assert all(f"on node {node['node']} flags" in text for _, text in node["dump"] + node.get("reserved_on_node", []))
        for pin in node.get("pinned_by", []):
            start, end = _range(pin["cite"][1])
            outer = _range(node["reserved_on_node"][pin["inside"]][1])
            assert outer[0] <= start and end <= outer[1], pin
    assert header["next_after_movable"][0] == header["movable_zone_header"][0] + 1 + len(header["movable_zone_start"])
    assert not header["next_after_movable"][1].startswith("  Node ")


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_parser_and_pinning_state_the_hand_checked_facts(log: Path) -> None:
    header, boot = _header(log), load_boot_log(log)
    findings = {f.node: f for f in hotplug_findings(boot)}
    assert sorted(findings) == [n["node"] for n in header["hotplug"]]
    for node in header["hotplug"]:
        finding = findings[node["node"]]
        assert finding.status.value == node["status"]
        assert [(r.base, r.end) for r in finding.memory] == [_range(text) for _, text in node["dump"]]
        pinned = {(r.region.base, r.region.end) for r in finding.pinned_by}
        assert pinned == {_range(text) for _, text in node.get("reserved_on_node", [])}
        callers = {c.caller for r in finding.pinned_by for c in r.causes}
        assert {pin["caller"] for pin in node.get("pinned_by", [])} <= callers
    assert boot.movable_zone_start == {int(n): int(text.split()[-1], 16)
                                       for n, (_, text) in header["movable_zone_start"].items()}
    refusals = {f.line for f in boot.offline_failures if f.kind.value in ("page_dumped", "eject_disabled")}
    assert refusals == {number for number, _ in header["refusals"]}
