"""Which QEMU runs a scenario (harness.qemu.choice): the command line's, the scenario's, or
the host release's backports when only that one can; recorded probes of 7.2.22 and 10.0.2
stand for the two binaries, nothing is fetched or booted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.qemu.binary import SYSTEM, QemuBinary
from harness.qemu.choice import choose_qemu
from harness.qemu.devices import qemu_needs
from harness.qemu.facts import QemuFacts
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CXL = ROOT / "fixtures/scenarios/one-node-cxl-movable.toml"
DIMMS = ROOT / "fixtures/scenarios/two-node-dimms.toml"
FACTS = {spec: QemuFacts.of(json.loads((ROOT / f"fixtures/qemu/probe-{v}.json").read_text()))
         for spec, v in ((SYSTEM, "7.2.22"), ("debian:bookworm-backports", "10.0.2"),
                         ("debian:10.0", "10.0.2"), ("/opt/qemu-7", "7.2.22"))}


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The specs resolved, in order; the host is Debian 12."""
    asked: list[str] = []

    def resolve(spec: str) -> QemuBinary:
        if spec not in FACTS:
            raise BadInputError(f"--qemu: {spec}: no executable QEMU there")
        asked.append(spec)
        return QemuBinary(spec, Path("/bin/true"))
    monkeypatch.setattr("harness.qemu.choice.resolve_qemu", resolve)
    monkeypatch.setattr("harness.qemu.choice.probe", lambda qemu: FACTS[qemu.spec])
    monkeypatch.setattr("harness.qemu.choice.host_release", lambda: "12")
    return asked


def _needs(path: Path):  # type: ignore[no-untyped-def]
    scenario = load_scenario(path)
    return qemu_needs(scenario, compute_layout(scenario))


def test_cxl_on_the_default_qemu_runs_the_backports_one_and_says_why(resolved: list[str]) -> None:
    chosen = choose_qemu(CXL, SYSTEM, None, _needs(CXL))
    assert resolved == [SYSTEM, "debian:bookworm-backports"] and chosen.facts.version == "10.0.2"
    assert chosen.why == ("ran QEMU 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1) (debian:bookworm-backports, "
                          "this host release's backports): the system QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3) "
                          "has no property 'volatile-memdev' of cxl-type3")


def test_a_scenario_the_default_qemu_can_run_stays_on_it_silently(resolved: list[str]) -> None:
    chosen = choose_qemu(DIMMS, SYSTEM, None, _needs(DIMMS))
    assert resolved == [SYSTEM] and chosen.why is None and chosen.facts.version == "7.2.22"


def test_the_scenario_names_its_qemu_and_the_command_line_wins(resolved: list[str]) -> None:
    named = choose_qemu(CXL, SYSTEM, "debian:10.0", _needs(CXL))
    assert named.qemu.spec == "debian:10.0" and named.why == "the scenario's machine.qemu = 'debian:10.0'"
    given = choose_qemu(DIMMS, "debian:bookworm-backports", "debian:10.0", _needs(DIMMS))
    assert given.qemu.spec == "debian:bookworm-backports"
    assert given.why == ("--qemu debian:bookworm-backports instead of the scenario's machine.qemu = "
                         "'debian:10.0' (the command line wins)")


def test_a_qemu_asked_for_by_name_is_refused_never_replaced(resolved: list[str]) -> None:
    with pytest.raises(BadInputError, match=r"cxl-movable.toml: QEMU 7.2.22 .* cannot run it: "
                                            r"no property 'volatile-memdev' of cxl-type3$"):
        choose_qemu(CXL, "/opt/qemu-7", None, _needs(CXL))
    with pytest.raises(BadInputError, match="cannot run it"):
        choose_qemu(CXL, SYSTEM, "/opt/qemu-7", _needs(CXL))
    assert "debian:bookworm-backports" not in resolved


def test_a_bad_machine_qemu_names_the_scenario_and_field(resolved: list[str]) -> None:
    with pytest.raises(BadInputError, match=r"cxl-movable.toml: machine.qemu: --qemu: nowhere: "):
        choose_qemu(CXL, SYSTEM, "nowhere", _needs(CXL))


def test_no_backports_for_this_host_keeps_the_refusal(resolved: list[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.qemu.choice.host_release", lambda: None)
    with pytest.raises(BadInputError, match="no property 'volatile-memdev' of cxl-type3"):
        choose_qemu(CXL, SYSTEM, None, _needs(CXL))
    assert resolved == [SYSTEM]
