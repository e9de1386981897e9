"""result.json and model.json: one schema, written and read back typed; a file that does not
match is one line naming the file and the field."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import BadInputError, ExitCode, Verdict
from harness.guest.actions import ActionResult, BlockOutcome, DimmSeen
from harness.guest.state import GuestSnapshot, MemoryBlock, PageFlagSummary, PageFlagsUnread, ZoneInfo
from harness.logparse import load_boot_log
from harness.qemu.qmp import OstEvent, UnplugOutcome
from harness.paths import ArtifactWriteError, write_file
from harness.qemu.qmp import memory_device
from harness.run.artifacts import (
    SCHEMA_VERSION,
    ModelFile,
    ResultFile,
)
from harness.run.checks import BootFacts
from harness.run.compare import compare_runs
from harness.run.runner import Observation, UnrecordedRun, model_file, write_summaries
from harness.run.run_folder import ensure_out_dir
from harness.run.verdict import RunResult
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "fixtures" / "scenarios" / "two-node-dimm-refused.toml"
LOG = ROOT / "fixtures" / "logs" / "recorded" / "memhp-6.1-two-node-dimm-refused.log"
FLAGS = PageFlagSummary(block=40, pages=32768, nopage=0, reserved=12, slab=3, pgtable=0,
                        buddy=100, lru=5, first_reserved_pfns=(0x140000,))


def _observation() -> Observation:
    snapshot = GuestSnapshot(128 << 20, (MemoryBlock(40, "online", 1, ("Normal",)),),
                             (ZoneInfo(1, "Normal", 0x140000, 32768, 32768, 30000),), 2 << 20)
    offline = ActionResult("off", "offline_range", "failure", False, "memory40: busy",
                           blocks=[BlockOutcome(40, 5 << 30, False, "EBUSY", FLAGS),
                                   BlockOutcome(41, 5 << 30, False, "EBUSY", PageFlagsUnread(error="agent: no"))])
    unplug = UnplugOutcome("hot0", False, 3.5, (OstEvent("hot0", "1", 3, 0x80),), "no DEVICE_DELETED")
    remove = ActionResult("rm", "dimm_remove", "failure", False, "no DEVICE_DELETED", unplug=unplug,
                          dimm=DimmSeen("hot0", 8 << 30, 9 << 30))
    dimm = memory_device({"type": "dimm", "data": {"id": "hot0", "addr": 8 << 30, "size": 1 << 30, "slot": 0,
                                                   "node": 1}})
    return Observation(release="6.1.0-57-amd64", before=snapshot, after=snapshot,
                       actions=[offline, remove], guest_error=None, kernel_ran=True,
                       memory_devices_before=(dimm,), memory_devices_after=(),
                       distances=((10, 20), (20, 10)))


def _model() -> ModelFile:
    scenario = load_scenario(SCENARIO)
    return model_file(scenario, compute_layout(scenario), BootFacts.of(load_boot_log(LOG)), _observation())


def _result() -> ResultFile:
    result = RunResult("two-node-dimm-refused", "debian:6.1", "6.1.0-57-amd64")
    result.add("no kernel panic", "none in the console log", "none in the console log")
    result.add("action rm (dimm_remove)", "failure", "success", "DEVICE_DELETED", ok=False)
    return result.artifact()


def _through_disk(artifact: ResultFile | ModelFile, path: Path) -> dict[str, Any]:
    artifact.write(path)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_result_json_round_trips_with_kernel_spec_and_release_apart(tmp_path: Path) -> None:
    data = _through_disk(_result(), tmp_path / "result.json")
    assert list(data)[:4] == ["schema_version", "scenario", "kernel", "release"]
    assert (data["kernel"], data["release"], data["verdict"], data["exit_code"]) == \
           ("debian:6.1", "6.1.0-57-amd64", "fail", 1)
    back = ResultFile.read(tmp_path / "result.json")
    assert back == _result() and back.verdict is Verdict.FAIL and back.exit_code is ExitCode.FAIL
    assert back.failed_checks == ("action rm (dimm_remove)",)


def test_model_json_round_trips_every_fact_typed(tmp_path: Path) -> None:
    model = _model()
    data = _through_disk(model, tmp_path / "model.json")
    back = ModelFile.read(tmp_path / "model.json")
    assert back == model
    assert back.boot_log.kernel_release == load_boot_log(LOG).kernel_release
    blocks = back.actions[0].blocks
    assert blocks[0].pageflags is not None and blocks[0].pageflags == model.actions[0].blocks[0].pageflags
    assert blocks[1].pageflags == PageFlagsUnread(error="agent: no")
    assert back.actions[1].unplug is not None and back.actions[1].unplug.ost[0].status == 0x80
    assert back.memory_devices.before is not None
    assert [d.dimm_range() for d in back.memory_devices.before] == [("hot0", 8 << 30, 9 << 30)]
    # The JSON keeps the facts and names that were there before the schema.
    assert data["actions"][0]["blocks"][0]["pageflags"]["reserved"] == 12
    assert data["actions"][1]["unplug"]["ost"][0]["words"].endswith("(0x80)")
    assert data["guest"]["before"]["zones"] and data["node_distances"] == [[10, 20], [20, 10]]
    assert data["hotplug_findings"] and data["boot_log"]["srat_memory"]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=2), "schema_version: 2, this memhp reads 1"),
    (lambda d: d.pop("schema_version"), "schema_version: missing, this memhp reads 1"),
    (lambda d: d.pop("verdict"), "verdict: field required"),
    (lambda d: d["checks"][1].update(ok="maybe"), "checks[1].ok: input should be a valid boolean"),
    (lambda d: d.update(verdict="great"), "verdict: input should be 'pass', 'fail', 'error' or 'bad-input'"),
    (lambda d: d["info"].pop("accel"), "info.accel: field required"),
    (lambda d: d["checks"][0].pop("reason"), "checks[0].reason: field required"),
])
def test_a_result_json_that_does_not_match_is_one_line_naming_file_and_field(
        tmp_path: Path, change: Any, message: str) -> None:
    path = tmp_path / "result.json"
    data = _through_disk(_result(), path)
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError) as err:
        ResultFile.read(path)
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)


def test_a_model_json_missing_a_nested_field_names_it(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    data = _through_disk(_model(), path)
    del data["actions"][1]["unplug"]["deleted"]
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError, match=r"model.json: actions\[1\].unplug.deleted: field required$"):
        ModelFile.read(path)


@pytest.mark.parametrize("text, message", [("{", "not JSON"), ("[1]", "not a JSON object")])
def test_a_file_that_is_no_json_object_is_bad_input(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "result.json").write_text(text)
    with pytest.raises(BadInputError, match=f"result.json: {message}"):
        ResultFile.read(tmp_path / "result.json")


def test_compare_of_a_run_whose_model_does_not_read_names_the_file(tmp_path: Path) -> None:
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        _result().write(tmp_path / side / "result.json")
        _model().write(tmp_path / side / "model.json")
    assert compare_runs(tmp_path / "a", tmp_path / "b").text().endswith("no differences")
    (tmp_path / "b" / "model.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
    with pytest.raises(BadInputError, match=r"b/model.json: scenario: field required \(and 9 more\)$"):
        compare_runs(tmp_path / "a", tmp_path / "b")


def test_a_full_disk_names_the_artifact_keeps_the_verdict_and_leaves_no_tmp(small_tmpfs) -> None:
    # 16 KiB: result.json (a few KiB) fits, model.json (the whole parsed boot log) does not.
    out = small_tmpfs(16 << 10)
    result = RunResult("two-node-dimm-refused", "debian:6.1", "6.1.0-57-amd64")
    result.add("action rm (dimm_remove)", "failure", "failure")
    with pytest.raises(UnrecordedRun) as caught:
        write_summaries(result, out, _observation(), _model())
    err = caught.value
    assert err.paths == (out / "model.json",) and err.exit_code is ExitCode.CANNOT_TEST
    assert str(err) == f"could not write {out / 'model.json'}: No space left on device"
    assert err.result is result and result.verdict is Verdict.PASS
    written = ResultFile.read(out / "result.json")
    assert written.verdict is Verdict.PASS and written.error == "not written (could not test): model.json"
    # The file says the exit the process makes (125), not the verdict's 0.
    assert written.exit_code is ExitCode.CANNOT_TEST and result.exit_code is ExitCode.CANNOT_TEST
    assert sorted(p.name for p in out.iterdir()) == ["result.json"]


def test_an_artifact_folder_on_a_full_disk_could_not_test(small_tmpfs) -> None:
    out = small_tmpfs(4 << 10, inodes=2)  # the root and the filler: no inode for a folder
    (out / "filler").write_bytes(b"x" * (4 << 10))
    with pytest.raises(ArtifactWriteError, match="No space left on device") as caught:
        ensure_out_dir(out / "run" / "deeper")
    assert caught.value.exit_code is ExitCode.CANNOT_TEST
    with pytest.raises(ArtifactWriteError):
        write_file(out / "srat.aml", b"S" * 100)
    assert not (out / "srat.aml").exists()
