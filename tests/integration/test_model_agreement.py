"""memhp run compares the simulator with the real boot: zones, hotplug marks, outcomes."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.run.verdict import RunResult, Verdict
from harness.scenario.schema import load_scenario

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
CRASH = SCENARIOS.parent / "crashkernel"


def _model_checks(result: RunResult) -> list[dict]:
    return [c.to_json() for c in result.model_checks]


@pytest.mark.parametrize("name", ["three-node-movable", "three-node-no-movable-node",
                                  "two-node-initrd-pinned"])
def test_model_agrees_with_the_boot(shared_run, name: str) -> None:
    result = shared_run(SCENARIOS / f"{name}.toml")
    assert result.verdict is Verdict.PASS, result.summary()
    checks = _model_checks(result)
    assert checks and all(c["ok"] for c in checks), checks
    assert not any(c.name.startswith("model agrees") for c in result.checks)  # not in the verdict
    assert result.info.model_agreement is not None
    assert result.info.model_agreement.block_disagreements == ()


def test_pinning_reservations_confirmed_by_page_flags(shared_run) -> None:
    result = shared_run(SCENARIOS / "three-node-no-movable-node.toml")
    assert result.info.model_agreement is not None
    listed = result.info.model_agreement.reservations_in_hotplug_ranges
    log_buf = [r for r in listed if r.caller == "setup_log_buf"]
    assert log_buf and all(r.node == 2 and r.pageflags_reserved for r in log_buf), listed


@pytest.mark.parametrize("sibling", sorted((CRASH / "must-fail").glob("*.toml")), ids=lambda p: p.stem)
def test_crash_kernel_placed_as_simulated_and_siblings_fail_their_false_claims(shared_run, sibling: Path) -> None:
    """Each crashkernel machine (fixtures/crashkernel/, both kernels recorded there): the
    pass scenario passes with the simulator's placement the logged one, and only
    crash-high (3G without movable_node) has the crash kernel in hotpluggable node 2; its
    sibling, the same machine, fails just the checks it claims falsely."""
    passed = shared_run(sibling.parent / tomllib.loads(sibling.read_text())["extends"])
    assert passed.verdict is Verdict.PASS, passed.summary()
    (check,) = [c for c in passed.model_checks if c.name == "model agrees: crashkernel placement"]
    assert check.ok, check
    assert passed.info.model_agreement is not None
    listed = passed.info.model_agreement.reservations_in_hotplug_ranges
    in_node2 = any(r.caller == "crashkernel" and r.node == 2 for r in listed)
    assert in_node2 is (passed.scenario == "crash-high"), listed
    if in_node2:
        assert "crashkernel [0x13b000000-0x1faffffff]" in check.observed, check
    result = shared_run(sibling)
    assert result.verdict is Verdict.FAIL, result.summary()
    assert sorted(c.name for c in result.checks if not c.ok) == sorted(load_scenario(sibling).false_claims)
