"""Which runs share a boot, decided from the scenario files (no boot here): a sibling that
differs from its pass scenario only in what it expects is judged on that boot; one that
changes the machine, the command line or the actions boots on its own."""
from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.errors import BadInputError
from harness.lab.cell import shared_boot_argv
from harness.lab.shared_boot import read_plan
from harness.lab.sharing import boot_groups
from harness.lab.spec import load_matrix
from harness.run.runner import boot_identity, judge_on
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "scenarios"
NIGHTLY = ROOT / "fixtures" / "matrix" / "nightly.toml"

# The siblings issue 28 counted as differing from their parent only in [expect].
EXPECT_ONLY = ["four-node-kernelcore-claims-old-model", "four-node-movablecore-percent-claims-unspread",
               "three-node-kernelcore-percent-claims-old-model",
               "three-node-movable-node-movablecore-claims-movablecore-wins",
               "three-node-movablecore-claims-no-movable", "three-node-slit-override-claims-no-slit",
               "three-node-slit-qemu-claims-no-slit", "two-node-initrd-pinned-claims-honoured"]
# Siblings whose actions are not their parent's (other actions, another timeout).
OTHER_ACTIONS = ["three-node-movable-claims-offline-refused", "two-node-dimms-claims-refused",
                 "two-node-auto-movable-claims-ratio-ignored", "two-node-memmap-on-memory-claims-pinned"]


def _parent(sibling: Path) -> Path:
    return sibling.parent / tomllib.loads(sibling.read_text())["extends"]


@pytest.mark.parametrize("name", EXPECT_ONLY)
def test_a_sibling_that_only_expects_otherwise_has_its_parent_s_boot(name: str) -> None:
    sibling = SCENARIOS / "must-fail" / f"{name}.toml"
    assert boot_identity(load_scenario(sibling)) == boot_identity(load_scenario(_parent(sibling)))


def test_an_action_s_expect_is_a_claim_but_its_timeout_is_not() -> None:
    """three-node-no-movable-node-claims-movable restates offline-node2 expecting success:
    the same action, judged otherwise. A timeout changed is another run."""
    sibling = SCENARIOS / "must-fail" / "three-node-no-movable-node-claims-movable.toml"
    parent = load_scenario(_parent(sibling))
    assert boot_identity(load_scenario(sibling)) == boot_identity(parent)
    longer = parent.model_copy(update={"actions": (parent.actions[0].model_copy(update={"timeout": 99.0}),)})
    assert boot_identity(longer) != boot_identity(parent)


def test_a_cxl_region_s_zone_is_a_claim_but_its_online_type_is_not() -> None:
    """one-node-cxl-movable-claims-refused claims ZONE_NORMAL and a refused offline: the
    guest does the same, so it is judged on its parent's boot; onlining another way is not."""
    sibling = SCENARIOS / "must-fail" / "one-node-cxl-movable-claims-refused.toml"
    parent = load_scenario(_parent(sibling))
    assert boot_identity(load_scenario(sibling)) == boot_identity(parent)
    region = parent.actions[0].model_copy(update={"online_type": "online_kernel"})
    assert boot_identity(parent.model_copy(update={"actions": (region, *parent.actions[1:])})) != boot_identity(parent)


@pytest.mark.parametrize("name", OTHER_ACTIONS)
def test_a_sibling_with_other_actions_boots_on_its_own(name: str) -> None:
    sibling = SCENARIOS / "must-fail" / f"{name}.toml"
    assert boot_identity(load_scenario(sibling)) != boot_identity(load_scenario(_parent(sibling)))


def test_another_command_line_or_machine_is_another_boot() -> None:
    parent = load_scenario(SCENARIOS / "three-node-movable.toml")
    cmdline = parent.model_copy(update={"kernel": parent.kernel.model_copy(update={"cmdline": "quiet"})})
    machine = parent.model_copy(update={"machine": parent.machine.model_copy(update={"slots": 7})})
    assert boot_identity(cmdline) != boot_identity(parent) != boot_identity(machine)


def test_judging_a_scenario_that_needs_its_own_boot_is_refused(tmp_path: Path) -> None:
    booted = SimpleNamespace(prepared=SimpleNamespace(scenario=load_scenario(SCENARIOS / "two-node-dimms.toml")))
    sibling = SCENARIOS / "must-fail" / "two-node-dimms-claims-refused.toml"
    with pytest.raises(BadInputError, match="differs from two-node-dimms in more than its expectations"):
        judge_on(sibling, booted, tmp_path / "out")  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def _without_actions(path: Path) -> dict:
    identity = boot_identity(load_scenario(path))
    identity.pop("actions")
    return identity


def test_nightly_cells_share_a_boot_only_with_the_same_kernel_variant_and_machine() -> None:
    spec = load_matrix(NIGHTLY)
    groups = boot_groups(spec.runs, replace(spec.settings, restore=True))
    assert sorted(r.run_id for g in groups for r in g.cells) == sorted(r.run_id for r in spec.runs)
    assert len(groups) < len(spec.runs)
    for group in groups:
        assert len({(c.kernel, c.variant) for c in group.cells}) == 1
        machine = _without_actions(group.boot.scenario)
        for run in group.runs:
            assert _without_actions(run.cell.scenario) == machine
            identity = boot_identity(load_scenario(run.cell.scenario))
            assert all(boot_identity(load_scenario(c.scenario)) == identity for c in run.judged)
            assert not run.judged or run.cell.expect.value == "pass"  # the parent runs
        actions = [boot_identity(load_scenario(r.cell.scenario))["actions"] for r in group.runs]
        assert all(a not in actions[:i] for i, a in enumerate(actions))  # one run per action list
    judged = {c.scenario_name for g in groups for r in g.runs for c in r.judged}
    restored = {r.cell.scenario_name for g in groups for r in g.runs[1:]}
    assert set(EXPECT_ONLY) <= judged and set(OTHER_ACTIONS) <= restored
    assert not set(OTHER_ACTIONS) & judged


def test_the_nightly_restores_and_without_restore_boots_each_list_of_actions_boots(tmp_path: Path) -> None:
    """The nightly restores saved boots (restore_boots = true) since the guest no longer
    reads valid_zones in 6.12's window of a block without its node (guest/helpers/state.c);
    a matrix that says false, or says nothing (the default), boots each list of actions."""
    spec = load_matrix(NIGHTLY)
    assert spec.settings.restore
    groups = boot_groups(spec.runs, replace(spec.settings, restore=False))
    assert all(len(g.runs) == 1 for g in groups) and any(g.shares for g in groups)
    assert len(groups) > len(boot_groups(spec.runs, spec.settings))
    quiet = tmp_path / "m.toml"
    quiet.write_text(f'kernels = ["debian:6.1"]\nscenarios = ["{SCENARIOS}/two-node-dimms.toml"]\n')
    assert not load_matrix(quiet).settings.restore


def test_a_matrix_that_shares_nothing_boots_every_cell(tmp_path: Path) -> None:
    spec = load_matrix(NIGHTLY)
    for settings in (replace(spec.settings, share=False, restore=True), replace(spec.settings, repeat=2, restore=True)):
        assert all(not g.shares for g in boot_groups(spec.runs, settings))
    bad = tmp_path / "m.toml"
    for key in ("share_boots", "restore_boots"):
        bad.write_text(f'kernels = ["debian:6.1"]\nscenarios = ["{SCENARIOS}/two-node-dimms.toml"]\n'
                       f'{key} = "yes"\n')
        with pytest.raises(BadInputError, match=rf"m\.toml: {key}: expected true or false"):
            load_matrix(bad)


def test_a_boot_group_s_plan_names_every_cell_with_its_variant(tmp_path: Path) -> None:
    """The one process of a boot group gets each cell's scenario (the variant's command
    line added) and folder, runs in order, each with the cells judged on it."""
    spec = load_matrix(NIGHTLY)
    group = next(g for g in boot_groups(spec.runs, replace(spec.settings, restore=True))
                 if len(g.runs) > 1 and all(r.judged for r in g.runs) and g.boot.variant.cmdline)
    argv = shared_boot_argv(group, tmp_path, spec.settings)
    assert argv[1:3] == ["-m", "harness.lab.shared_boot"]
    options, runs = read_plan(Path(argv[3]))
    assert (options.kernel, options.accel, options.boot, options.boot_timeout) == (
        group.boot.kernel, spec.settings.accel, spec.settings.boot, spec.settings.boot_timeout)
    assert [r.cell.folder for r in runs] == [tmp_path / r.cell.run_id for r in group.runs]
    assert [[c.folder for c in r.judged] for r in runs] == [
        [tmp_path / c.run_id for c in r.judged] for r in group.runs]
    for run in runs:
        for cell in (run.cell, *run.judged):
            assert group.boot.variant.cmdline in kernel_cmdline(load_scenario(cell.scenario))
