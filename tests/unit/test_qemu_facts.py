"""What memhp asks of a QEMU: recorded probes of 7.2.22 (Debian 12) and 10.0.2
(bookworm-backports). Regenerate on Debian 12 with::

    .venv/bin/python -c "import json; from harness.qemu.resolve import resolve_qemu; \\
    from harness.qemu.probe import probe; [json.dump(f.to_json(), open(f'fixtures/qemu/probe-{f.version}.json', 'w'), \\
    indent=1, sort_keys=True) for f in (probe(resolve_qemu(s)) for s in ('system', 'debian:10.0'))]"
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness import cli
from harness.qemu.binary import system_qemu
from harness.qemu.devices import qemu_needs
from harness.qemu.facts import Need, QemuFacts
from harness.qemu.probe import probe
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
VIRTIO = ROOT / "fixtures/scenarios/two-node-virtio-mem-movable.toml"


def _recorded(version: str) -> QemuFacts:
    return QemuFacts.of(json.loads((ROOT / f"fixtures/qemu/probe-{version}.json").read_text()))


def test_what_changed_from_7_2_to_10_0_is_asked_not_assumed() -> None:
    old, new = _recorded("7.2.22"), _recorded("10.0.2")
    assert old.machine_type("pc") == "pc-i440fx-7.2" and new.machine_type("pc") == "pc-i440fx-10.0"
    # MEM_UNPLUG_ERROR is gone since 9.1; 7.2 sends both.
    assert old.unplug_error_events == {"MEM_UNPLUG_ERROR", "DEVICE_UNPLUG_GUEST_ERROR"}
    assert new.unplug_error_events == {"DEVICE_UNPLUG_GUEST_ERROR"}
    assert not old.mapped_ram and new.mapped_ram
    assert old.label == "QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"


def test_every_shipped_scenario_runs_on_both_recorded_qemus() -> None:
    """CXL scenarios aside: 7.2 has cxl-type3 without volatile memory (added in 8.0), so
    memhp refuses them there, naming the property."""
    for path in sorted((ROOT / "fixtures/scenarios").glob("*.toml")):
        scenario = load_scenario(path)
        needs = qemu_needs(scenario, compute_layout(scenario))
        assert _recorded("10.0.2").missing(needs) == [], path.name
        old = _recorded("7.2.22").missing(needs)
        assert old == (["property 'volatile-memdev' of cxl-type3"] if scenario.cxl else []), (path.name, old)


def test_a_property_the_qemu_lacks_is_named() -> None:
    facts = _recorded("7.2.22")
    props = dict(facts.properties)
    props["virtio-mem-pci"] = props["virtio-mem-pci"] - {"memaddr"}
    lacking = dataclasses.replace(facts, properties=props)
    scenario = load_scenario(VIRTIO)
    assert lacking.missing(qemu_needs(scenario, compute_layout(scenario))) == [
        "property 'memaddr' of virtio-mem-pci"]
    assert lacking.missing([Need("cxl-type4"), Need("machine", "q99")]) == [
        "cxl-type4", "machine type 'q99'"]


def test_a_scenario_the_qemu_cannot_run_is_one_line_exit_2_before_boot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    facts = _recorded("7.2.22")
    props = {k: v for k, v in facts.properties.items() if k != "virtio-mem-pci"}
    monkeypatch.setattr("harness.qemu.choice.probe", lambda qemu: dataclasses.replace(facts, properties=props))
    monkeypatch.setattr("harness.qemu.choice.BACKPORTS", {})  # no other QEMU to stand in
    code = cli.main(["run", str(VIRTIO), "--out", str(tmp_path / "out"), "--accel", "tcg"])
    err = capsys.readouterr()
    assert code == 2
    # bad input is one line on stderr, like every subcommand's
    assert err.err.count("\n") == 1 and "QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" in err.err
    assert "no property 'memaddr' of virtio-mem-pci" in err.err, err.err
    assert not (tmp_path / "out" / "console.log").exists()  # nothing booted


def test_the_host_s_qemu_is_probed_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path))
    facts = probe(system_qemu())
    assert facts.version_tuple >= (7, 2) and "pc" in facts.machines
    assert {"pc-dimm", "virtio-mem-pci", "memory-backend-ram"} <= set(facts.properties)
    cached = list((tmp_path / "probes").glob("qemu-*.json"))
    assert len(cached) == 1
    monkeypatch.setattr("harness.qemu.probe._ask", lambda qemu: pytest.fail("asked twice"))
    assert probe(system_qemu()) == facts
