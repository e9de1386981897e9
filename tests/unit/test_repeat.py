"""``memhp run --repeat``: how a restored repetition is judged and how the totals add up,
from a recorded boot log and the QMP answers a real save gave (fixtures/repeat/)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ExitCode, Verdict
from harness.guest.actions import ActionResult
from harness.guest.state import GuestSnapshot, ZoneInfo
from harness.logparse import load_boot_log
from harness.qemu.migration import STREAM, SaveFormat
from harness.qemu.qmp import memory_device
from harness.run.artifacts import RepeatInfo, Repetition, ResultFile
from harness.run.checks import BootFacts
from harness.run.repeat import SavedGuest, judge_repetition, overall, refusal_totals
from harness.run.runner import Observation
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = load_scenario(ROOT / "fixtures" / "scenarios" / "two-node-dimms.toml")
FACTS = BootFacts.of(load_boot_log(ROOT / "fixtures" / "logs" / "recorded" / "memhp-6.1-two-node-dimms.log"))
SAVED_ANSWERS: dict[str, Any] = json.loads((ROOT / "fixtures" / "repeat" / "two-node-dimms-6.1-saved.json").read_text())
ZONES = (ZoneInfo(0, "DMA32", 0x1000, 0x3f000, 0x3f000, 0x3a000), ZoneInfo(1, "Movable", 0x100000, 0x8000, 0x8000, 0x8000))


def _saved() -> SavedGuest:
    return SavedGuest(Path("state.bin"), "6.1.0-57-amd64", SAVED_ANSWERS["boot_id"],
                      GuestSnapshot(128 << 20, (), ZONES, 2 << 20),
                      tuple(map(memory_device, SAVED_ANSWERS["query-memory-devices"])),
                      tuple(SAVED_ANSWERS["query-memdev"]),
                      6.0, 0.4, 104 << 20, SaveFormat(STREAM))


def _seen(zones: tuple[ZoneInfo, ...] = ZONES, devices: list[dict[str, Any]] | None = None,
          refuse: bool = False) -> Observation:
    snapshot = GuestSnapshot(128 << 20, (), zones, 2 << 20)
    actions = [ActionResult(a.id, a.do, a.expect.value, not (refuse and a.id == "remove-hot0"),
                            "guest refused: ospm eject: device busy (0x82)" if refuse and a.id == "remove-hot0"
                            else "DEVICE_DELETED") for a in SCENARIO.actions]
    return Observation(release="6.1.0-57-amd64", before=snapshot, after=snapshot, actions=actions,
                       kernel_ran=True, boot_seconds=0.4, action_seconds=0.8,
                       memory_devices_before=tuple(map(memory_device, SAVED_ANSWERS["query-memory-devices"]
                                                                     if devices is None else devices)))


def _judge(seen: Observation, boot_id: str | None = None, tmp: Path = Path("/nonexistent")) -> dict[str, bool]:
    memdev = json.dumps(SAVED_ANSWERS["query-memdev"])
    identity = [("restored guest is the booted one (boot_id)", SAVED_ANSWERS["boot_id"],
                 boot_id or SAVED_ANSWERS["boot_id"]),
                ("QEMU restored the memory backends (query-memdev)", memdev, memdev)]
    result = judge_repetition(SCENARIO, compute_layout(SCENARIO), "debian:6.1", FACTS, _saved(), seen,
                              identity, tmp / "srat.aml")
    return {c.name: c.ok for c in result.checks}


def test_a_faithful_restore_passes_every_check_including_the_identity_ones() -> None:
    checks = _judge(_seen())
    assert all(checks.values()), checks
    assert {"restored guest has the booted zones", "QEMU restored the DIMMs (query-memory-devices)",
            "restored DIMMs are the scenario's coldplugged ones"} <= checks.keys()


def test_another_boot_id_other_zones_or_other_dimms_fail_the_repetition() -> None:
    assert not _judge(_seen(), boot_id="00000000-0000-0000-0000-000000000000")[
        "restored guest is the booted one (boot_id)"]
    assert not _judge(_seen(zones=ZONES[:1]))["restored guest has the booted zones"]
    moved = [dict(d, data=dict(d["data"], node=0)) for d in SAVED_ANSWERS["query-memory-devices"]]
    checks = _judge(_seen(devices=moved))
    assert not checks["QEMU restored the DIMMs (query-memory-devices)"]
    assert not checks["restored DIMMs are the scenario's coldplugged ones"]


def _rep(index: int, verdict: Verdict) -> Repetition:
    return Repetition(index=index, verdict=verdict, failed_checks=(), refused=(), restore_seconds=0.5,
                      action_seconds=1.0, error=None if verdict is not Verdict.ERROR else "QEMU gone")


def _info(*verdicts: Verdict) -> RepeatInfo:
    return RepeatInfo(count=len(verdicts), boot_seconds=6.0, save_seconds=0.4, state_bytes=1,
                      repetitions=tuple(_rep(i + 1, v) for i, v in enumerate(verdicts)), refusals=())


def test_one_failed_repetition_fails_the_run_and_could_not_test_alone_is_an_error() -> None:
    assert overall(SCENARIO, "debian:6.1", _saved(), _info(Verdict.PASS, Verdict.PASS)).verdict is Verdict.PASS
    failed = overall(SCENARIO, "debian:6.1", _saved(), _info(Verdict.PASS, Verdict.FAIL, Verdict.ERROR))
    assert failed.verdict is Verdict.FAIL
    assert [c.ok for c in failed.checks] == [True, False, False]
    skipped = overall(SCENARIO, "debian:6.1", _saved(), _info(Verdict.PASS, Verdict.ERROR))
    assert skipped.verdict is Verdict.ERROR and skipped.exit_code is ExitCode.CANNOT_TEST
    assert skipped.error == "could not test: 1 pass, 1 error of 2"


def test_refusals_are_counted_per_action_with_their_reasons() -> None:
    reps = [(_rep(1, Verdict.PASS), _seen()), (_rep(2, Verdict.FAIL), _seen(refuse=True)),
            (_rep(3, Verdict.FAIL), _seen(refuse=True)),
            (_rep(4, Verdict.FAIL), Observation(guest_error="agent ping: no answer within 30 s"))]
    assert refusal_totals(SCENARIO, reps) == (
        "add-hot0 did not succeed in 1 of 4: not run: agent ping: no answer within 30 s ×1",
        "remove-hot0 did not succeed in 3 of 4: guest refused: ospm eject: device busy (0x82) ×2; "
        "not run: agent ping: no answer within 30 s ×1",
        "remove-cold0 did not succeed in 1 of 4: not run: agent ping: no answer within 30 s ×1")


def test_result_json_keeps_every_repetition(tmp_path: Path) -> None:
    result = overall(SCENARIO, "debian:6.1", _saved(), _info(Verdict.PASS, Verdict.FAIL))
    result.info = replace(result.info, repeat=_info(Verdict.PASS, Verdict.FAIL))
    result.artifact().write(tmp_path / "result.json")
    back = ResultFile.read(tmp_path / "result.json")
    assert back.info.repeat == _info(Verdict.PASS, Verdict.FAIL) and back.verdict is Verdict.FAIL
    assert "repetitions: 1 pass, 1 fail of 2" in result.summary()


@pytest.mark.parametrize("count", ["0", "-3", "two"])
def test_a_bad_repeat_count_is_one_line_and_exit_2(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(ROOT / "fixtures" / "scenarios" / "two-node-dimms.toml"), "--repeat", count]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(f"argument --repeat: must be a positive integer, not '{count}'")


def test_each_repetition_and_the_save_get_a_model_and_a_broken_one_costs_no_verdict() -> None:
    from typing import cast

    from harness.run import repeat
    from harness.run.runner import Prepared
    from harness.run.verdict import RunResult

    prep = cast(Prepared, type("P", (), {"scenario": SCENARIO, "layout": compute_layout(SCENARIO)}))
    result = RunResult(SCENARIO.name, "debian:6.1", "6.1.0-57-amd64")
    model = repeat._model(result, prep, FACTS, _seen())
    assert model is not None and model.guest.before is not None and model.guest.before.zones == ZONES
    assert [a.id for a in model.actions] == [a.id for a in SCENARIO.actions] and result.error is None
    assert repeat._model(result, prep, FACTS, Observation()) is None  # a restore that never answered
    broken = cast(Prepared, type("P", (), {"scenario": None, "layout": compute_layout(SCENARIO)}))
    assert repeat._model(result, broken, FACTS, _seen()) is None
    assert result.error is not None and result.error.startswith("model.json not written: ")
    assert result.verdict is not Verdict.ERROR
