"""Memory-init time per node from the pgdatinit lines, as the hand-checked facts cite them."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.analysis.log_verdict import describe_verdict, hotplug_verdict
from harness.analysis.meminit_times import node_init_times
from harness.logparse import load_boot_log
from harness.logparse.parser import parse_boot_log

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "recorded"
USER_SCRIPT = sorted(RECORDED.glob("memhp-*-two-node-user-script.log"))


@pytest.mark.parametrize("log", USER_SCRIPT, ids=[p.stem for p in USER_SCRIPT])
def test_parser_states_the_cited_deferred_init_lines(log: Path) -> None:
    facts = json.loads(log.with_name(log.stem + ".expected.json").read_text())["facts"]
    cited = {}
    for _, text in facts["deferred_init"]:
        node, ms = re.fullmatch(r"node (\d+) deferred pages initialised in (\d+)ms", text).groups()  # type: ignore[union-attr]
        cited[int(node)] = int(ms)
    assert load_boot_log(log).deferred_init_ms == cited and len(cited) == 2


def test_ratios_between_nodes_per_gib() -> None:
    times = node_init_times(load_boot_log(RECORDED / "memhp-6.1-two-node-user-script.log"))
    # the log's early node ranges: node 0 [0x1000-0x9efff] + [0x100000-0xbffdffff], node 1 1 GiB
    node0_bytes = (0x9F000 - 0x1000) + (0xBFFE0000 - 0x100000)
    assert [(t.node, t.ms, t.memory) for t in times] == [(0, 188, node0_bytes), (1, 108, 1 << 30)]
    node0, node1 = times
    assert node0.ms_per_gib == round(188 / (node0_bytes / (1 << 30)), 2) == 62.68
    assert node1.ms_per_gib == 108.0 and node0.vs_fastest == 1.0 and node1.vs_fastest == 1.72
    text = describe_verdict(hotplug_verdict(load_boot_log(RECORDED / "memhp-6.1-two-node-user-script.log")))
    assert "    node 1: deferred pages initialised in 108 ms, 108 ms/GiB" in text


def test_lines_glued_to_other_output_and_in_any_order_still_count() -> None:
    text = ("[    2.9] node 1 deferred pages initialised in 7ms[    2.9] random: crng init done\n"
            "[    3.0] node 0 deferred pages initialised in 12ms\n")
    assert parse_boot_log(text, "t").deferred_init_ms == {1: 7, 0: 12}
    assert node_init_times(parse_boot_log(text, "t"))[0].ms_per_gib is None  # no node ranges logged
