"""What a run derives (the memory layout, the pinning findings) is computed once and handed
down: the model agreement and ``--show-command`` do not compute it again."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

import kernels
from harness.analysis import simulate as simulate_module
from harness.analysis.simulate import simulate
from harness.cli import main
from harness.errors import MemhpError
from harness.logparse import load_boot_log
from harness.run import checks, runner
from harness.run.checks import BootFacts
from harness.run.model_agreement import model_agreement
from harness.run.verdict import RunResult
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "fixtures" / "scenarios" / "three-node-no-movable-node.toml"
LOG = ROOT / "fixtures" / "logs" / "recorded" / "memhp-6.1-three-node-no-movable-node.log"


def _refuse(*args: Any) -> None:
    raise AssertionError("computed again")


def test_model_agreement_uses_the_run_s_layout_and_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(SCENARIO)
    layout, facts = compute_layout(scenario), BootFacts.of(load_boot_log(LOG))
    expected = simulate(scenario, "6.1")
    monkeypatch.setattr(simulate_module, "compute_layout", _refuse)
    monkeypatch.setattr(checks, "hotplug_findings", _refuse)
    monkeypatch.setattr(checks, "reservations_in_hotplug_ranges", _refuse)
    assert simulate(scenario, "6.1", layout=layout) == expected
    result = RunResult(scenario.name, "debian:6.1")
    agreement = model_agreement(result, scenario, layout, facts, [])
    assert agreement.template == expected.template and agreement.skipped is None
    names = [c.name for c in result.model_checks]
    assert "model agrees: SRAT hotplug mark of node 2 honoured" in names and all(c.ok for c in result.model_checks)
    checks.evaluate(result, scenario, facts, None, [], None)
    assert checks.reserved_in_hotplug_ranges(facts)


def test_show_command_plans_like_a_run_with_one_layout(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    try:
        kernels.resolve("debian:6.1")
    except MemhpError as err:
        pytest.skip(f"no debian:6.1 kernel: {err}")
    layouts = []
    monkeypatch.setattr(runner, "compute_layout", lambda s: layouts.append(s) or compute_layout(s))
    assert main(["run", str(SCENARIO), "--show-command", "--accel", "tcg"]) == 0
    argv = shlex.split(capsys.readouterr().out)
    assert argv[0].endswith("qemu-system-x86_64") and "<out>/initrd.img" in argv
    assert len(layouts) == 1


def test_show_command_with_boot_pvh_gives_qemu_the_vmlinux(capsys: pytest.CaptureFixture[str]) -> None:
    kernel = kernels.resolve("debian:6.1")
    assert main(["run", str(SCENARIO), "--show-command", "--accel", "tcg", "--boot", "pvh"]) == 0
    argv = shlex.split(capsys.readouterr().out)
    assert argv[argv.index("-kernel") + 1] == str(kernel.vmlinux)
    assert main(["run", str(SCENARIO), "--show-command", "--accel", "tcg"]) == 0
    argv = shlex.split(capsys.readouterr().out)
    assert argv[argv.index("-kernel") + 1] == str(kernel.bzimage)
