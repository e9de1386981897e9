"""Running a matrix without booting: a stub run function stands in for ``memhp run``."""
from __future__ import annotations

import json
import signal
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import ExitCode
from harness.lab.cell import (
    error_record,
    read_record,
    record_from_result,
    run_with_retries,
    scenario_for,
    stopping,
)
from harness.lab.history import History
from harness.lab.matrix import execute, write_reports
from harness.lab.reports.html import render_html
from harness.lab.reports.junit import junit_xml
from harness.lab.results import CellStatus, MatrixResult, RunRecord
from harness.lab.spec import MatrixSpec, RunSettings, RunSpec, Variant
from harness.run.artifacts import ResultFile
from harness.run.verdict import RunResult, Verdict
from harness.scenario.schema import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


def _spec(name: str, expect: Verdict = Verdict.PASS, variant: str = "default") -> RunSpec:
    return RunSpec("debian:6.1", Path(f"/nowhere/{name}.toml"), name, Variant(variant), expect)


def stub_run(run: RunSpec, out_dir: Path, settings: RunSettings) -> RunRecord:
    """Passes, fails (``*-fails``), or cannot test on its first attempt (``*-infra``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "console.log").write_bytes(b"Linux version 6.1.0-56-amd64\r\r\nlast line\r\r\n")
    first = not out_dir.with_name(out_dir.name + ".attempt1").exists()
    verdict = (Verdict.FAIL if run.scenario_name.endswith("-fails")
               else Verdict.ERROR if run.scenario_name.endswith("-infra") and first
               else Verdict.PASS)
    result = RunResult(run.scenario_name, "debian:6.1", "6.1.0-56-amd64")
    result.add("movable", "0x140000000", "0x140000000", ok=verdict is not Verdict.FAIL)
    if verdict is Verdict.ERROR:
        result.error, result.error_verdict = "QEMU died", Verdict.ERROR
    result.artifact().write(out_dir / "result.json")
    return record_from_result(run, ResultFile.read(out_dir / "result.json"), 0.5)


def test_record_from_result_takes_release_and_failed_checks() -> None:
    result = RunResult("x", "debian:6.12", "6.12.57+deb13-amd64")
    result.add("a", "success", "success")
    result.add("b", "success", "failure")
    record = record_from_result(_spec("x", Verdict.FAIL), result.artifact(), 3.0)
    assert (record.release, record.failed_checks, record.reason) == ("6.12.57+deb13-amd64", ("b",), "b")
    assert record.ok and RunRecord.from_json(record.to_json()) == record


def test_a_must_fail_cell_must_fail_exactly_its_false_claims() -> None:
    """A sibling that fails, but for another reason than the claims it declares false, is
    not the expected FAIL: the matrix says which checks failed and which should have."""
    result = RunResult("x-claims", "debian:6.1", "6.1.0-57-amd64")
    result.add("a", "success", "failure")
    result.add("b", "success", "success")
    claims = replace(_spec("x-claims", Verdict.FAIL), false_claims=("a",))
    assert record_from_result(claims, result.artifact(), 1.0).ok
    wrong = record_from_result(replace(claims, false_claims=("b",)), result.artifact(), 1.0)
    assert not wrong.ok and wrong.exit_code is ExitCode.FAIL
    assert wrong.reason == "failed ['a'], but its false claims are ['b']"
    assert RunRecord.from_json(wrong.to_json()) == wrong


def test_a_run_without_a_readable_result_json_could_not_be_tested(tmp_path: Path) -> None:
    (tmp_path / "memhp-run.log").write_text("starting\nmemhp: boom\n")
    record = read_record(_spec("x"), tmp_path, 1, 2.0)
    assert (record.verdict, record.reason) == (Verdict.ERROR, "memhp run exited 1 without result.json: "
                                               "starting | memhp: boom")
    data = RunResult("x", "debian:6.1").artifact().to_json()
    del data["checks"]
    (tmp_path / "result.json").write_text(json.dumps(data))
    record = read_record(_spec("x"), tmp_path, 1, 2.0)
    assert record.verdict is Verdict.ERROR
    assert record.reason == f"{tmp_path / 'result.json'}: checks: field required"


def test_infrastructure_errors_are_retried_and_earlier_attempts_kept(tmp_path: Path) -> None:
    record = run_with_retries(_spec("s-infra"), tmp_path / "s", RunSettings(retries=2), stub_run)
    assert record.verdict is Verdict.PASS and record.attempts == 2
    assert (tmp_path / "s.attempt1" / "result.json").exists() and (tmp_path / "s").exists()


def test_retries_run_out(tmp_path: Path) -> None:
    record = run_with_retries(_spec("s-infra"), tmp_path / "s", RunSettings(retries=0), stub_run)
    assert record.verdict is Verdict.ERROR and record.attempts == 1


def test_test_failures_are_never_retried(tmp_path: Path) -> None:
    record = run_with_retries(_spec("s-fails"), tmp_path / "s", RunSettings(retries=3), stub_run)
    assert record.verdict is Verdict.FAIL and record.attempts == 1
    assert not (tmp_path / "s.attempt1").exists()


def test_variant_scenario_appends_cmdline_to_the_scenario_s_own(tmp_path: Path) -> None:
    original = SCENARIOS / "two-node-initrd-pinned.toml"
    run = RunSpec("debian:6.1", original, original.stem, Variant("off", "memhp_default_state=offline"),
                  Verdict.PASS)
    derived = load_scenario(scenario_for(run, tmp_path))
    assert derived.kernel.cmdline == "movable_node memhp_default_state=offline"
    assert derived.name == load_scenario(original).name
    plain = RunSpec("debian:6.1", original, original.stem, Variant("default"), Verdict.PASS)
    assert scenario_for(plain, tmp_path) == original


def _matrix() -> MatrixSpec:
    runs = (_spec("a"), _spec("b-fails"), _spec("c-fails", Verdict.FAIL), _spec("d-infra"))
    return MatrixSpec("t", runs, RunSettings(retries=1))


def _check_result(result: MatrixResult, runs_dir: Path) -> None:
    assert [r.run_id for r in result.records] == [r.run_id for r in _matrix().runs]
    assert [r.ok for r in result.records] == [True, False, True, True]
    assert result.records[3].attempts == 2 and not result.ok
    for record in result.records:
        assert (runs_dir / record.run_id / "console.log").read_bytes().startswith(b"Linux version")
    assert MatrixResult.from_json(json.loads(json.dumps(result.to_json()))).records == result.records


def test_local_matrix_keeps_matrix_order_and_one_folder_per_run(tmp_path: Path) -> None:
    result = execute(_matrix(), tmp_path, workers=3, run_fn=stub_run)
    _check_result(result, tmp_path / "runs")
    assert result.to_json()["unexpected"] == ["b-fails@debian-6.1+default"]


def test_matrix_on_a_local_dask_cluster_brings_artifacts_back(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp", resources={"guests": 1}) as cluster:
        result = execute(_matrix(), tmp_path, workers=1, run_fn=stub_run,
                         scheduler=cluster.scheduler_address)
    _check_result(result, tmp_path / "runs")
    assert (tmp_path / "runs" / "d-infra@debian-6.1+default.attempt1" / "result.json").exists()


def test_an_overrunning_run_is_stopped_and_counts_as_could_not_test(tmp_path: Path) -> None:
    # Whatever the machine's speed, this run cannot end before the cell's timeout: its guest
    # never answers (no init, and rootwait waits for a disk that never comes) and its own
    # boot timeout is an hour, so only the matrix's timeout can stop it.
    never = Variant("never-answers", "rdinit=/nonexistent root=/dev/vda rootwait")
    run = RunSpec("debian:6.1", SCENARIOS / "two-node-initrd-pinned.toml", "two-node-initrd-pinned",
                  never, Verdict.PASS)
    from harness.lab.cell import run_in_subprocess

    record = run_in_subprocess(run, tmp_path / "r", RunSettings(timeout=0.3, boot_timeout=3600, accel="tcg"))
    assert record.verdict is Verdict.ERROR and record.reason == "timed out after 0.3 s"


def test_a_verdict_whose_evidence_was_not_all_written_could_not_test(tmp_path: Path) -> None:
    result = RunResult("x", "debian:6.1", "6.1.0-57-amd64")
    result.add("a", "success", "success")
    result.error = "not written (could not test): model.json"
    result.artifact().write(tmp_path / "result.json")
    assert read_record(_spec("x"), tmp_path, 0, 2.0).verdict is Verdict.PASS
    record = read_record(_spec("x"), tmp_path, 125, 2.0)
    assert (record.verdict, record.reason) == (Verdict.ERROR, "not written (could not test): model.json")


def interrupting_run(run: RunSpec, out_dir: Path, settings: RunSettings) -> RunRecord:
    """``*-ctrl-c`` plays the user's Ctrl-C mid-cell and then runs until its matrix stops it,
    as ``memhp run`` does when it gets SIGTERM; the others pass at once."""
    if not run.scenario_name.endswith("-ctrl-c"):
        return stub_run(run, out_dir, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "console.log").write_bytes(b"Linux version 6.1.0-57-amd64\r\r\n")
    # To this (the cell's) thread, as the kernel may hand a process-directed Ctrl-C to any
    # thread: the matrix must still stop within seconds, not when the cell ends
    # (harness.lab.matrix.LocalCells.finished).
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
    for _ in range(300):
        if stopping(settings):
            return error_record(run, "interrupted", 1.0, CellStatus.INTERRUPTED)
        time.sleep(0.1)
    raise AssertionError(f"the matrix never stopped its cells (SIGINT: {signal.getsignal(signal.SIGINT)!r})")


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own Ctrl-C handler, as `memhp matrix` has it in a terminal: a suite started
    as a background job of a non-interactive shell inherits SIGINT ignored (bash), and
    Python keeps it ignored (tests/child_signals.py)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("default_sigint")
@pytest.mark.parametrize("where", ["local", "dask"])
def test_ctrl_c_stops_the_matrix_and_keeps_the_partial_reports_and_history(
        tmp_path: Path, where: str) -> None:
    spec = MatrixSpec("t", (_spec("a"), _spec("b-ctrl-c"), _spec("c"), _spec("d")),
                      RunSettings(retries=3))
    if where == "local":
        result = execute(spec, tmp_path, workers=1, run_fn=interrupting_run)
    else:
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None, host="127.0.0.1",
                                      protocol="tcp", resources={"guests": 1}) as cluster:
            result = execute(spec, tmp_path, workers=1, run_fn=interrupting_run,
                             scheduler=cluster.scheduler_address)
    statuses = [(r.run_id.split("@")[0], r.status) for r in result.records]
    assert statuses == [("a", CellStatus.FINISHED), ("b-ctrl-c", CellStatus.INTERRUPTED),
                        ("c", CellStatus.NOT_RUN), ("d", CellStatus.NOT_RUN)]
    assert result.interrupted and result.exit_code is ExitCode.INTERRUPTED and not result.ok
    assert result.records[1].attempts == 1  # an interrupted cell is never retried
    assert (tmp_path / "runs" / result.records[1].run_id / "console.log").exists()
    write_reports(result, tmp_path, tmp_path / "h.sqlite")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] and summary["not_run"] == [r.run_id for r in result.records[2:]]
    assert summary["interrupted_runs"] == [result.records[1].run_id]
    again = MatrixResult.from_json(summary)
    assert again.records == result.records and again.interrupted
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("skipped"), suite.get("errors")) == ("3", "0")
    assert "interrupted" in (tmp_path / "index.html").read_text()
    with History(tmp_path / "h.sqlite") as history:  # only the cell that finished
        assert [(t.scenario, len(t.outcomes)) for t in history.trend_rows()] == [("a", 1)]


def test_the_reports_show_boot_and_action_time_apart(tmp_path: Path) -> None:
    result = RunResult("x", "debian:6.1", "6.1.0-57-amd64")
    result.add("a", "success", "success")
    result.info = replace(result.info, boot_seconds=7.0, action_seconds=1.5)
    record = record_from_result(_spec("x"), ResultFile.from_json(result.artifact().to_json()), 9.0)
    assert (record.boot_seconds, record.action_seconds) == (7.0, 1.5)
    assert RunRecord.from_json(record.to_json()) == record
    matrix = MatrixResult("t", "t-1", "2026-01-01T00:00:00", 9.0, (record,))
    assert "<td>7.0</td><td>1.5</td><td>9</td>" in render_html(matrix, tmp_path, None)
    case = junit_xml(matrix, tmp_path).find("testsuite/testcase/system-out")
    assert case is not None and "boot 7.00 s; actions 1.50 s" in (case.text or "")


def test_both_reports_name_the_qemu_that_ran_and_keep_two_qemus_apart(tmp_path: Path) -> None:
    from harness.run.artifacts import QemuInfo

    result = RunResult("x", "debian:6.1", "6.1.0-57-amd64")
    result.add("a check", "ok", "ok")
    result.info = replace(result.info, accel="tcg", qemu=QemuInfo(
        spec="/opt/q10", path="/opt/q10/usr/bin/qemu-system-x86_64", version="10.0.2",
        package="Debian 1:10.0.2+ds-2+deb13u1~bpo12+1", machine="pc-i440fx-10.0"))
    on10 = record_from_result(replace(_spec("x"), qemu="/opt/q10"), ResultFile.from_json(result.artifact().to_json()), 9.0)
    assert RunRecord.from_json(on10.to_json()) == on10
    on72 = record_from_result(_spec("x"), ResultFile.from_json(RunResult("x", "debian:6.1", "6.1.0-57-amd64")
                                                              .artifact().to_json()), 9.0)
    matrix = MatrixResult("t", "t-1", "2026-01-01T00:00:00", 9.0, (on72, on10))
    html = render_html(matrix, tmp_path, None)
    assert "<td>QEMU 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)<br>pc-i440fx-10.0, tcg</td>" in html
    cases = junit_xml(matrix, tmp_path).findall("testsuite/testcase")
    assert [c.get("classname") for c in cases] == ["debian:6.1.default", "debian:6.1.default.qemu-/opt/q10"]
    out = cases[1].find("system-out")
    assert out is not None and "QEMU 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1), machine pc-i440fx-10.0, tcg" in (out.text or "")


def test_a_repeated_cell_shows_its_repetition_totals_in_both_reports(tmp_path: Path) -> None:
    from harness.run.artifacts import RepeatInfo, Repetition

    reps = tuple(Repetition(index=i, verdict=v, failed_checks=(), refused=(), restore_seconds=0.5,
                            action_seconds=1.0, error=None)
                 for i, v in enumerate((Verdict.PASS, Verdict.FAIL, Verdict.PASS), start=1))
    info = RepeatInfo(count=3, boot_seconds=7.0, save_seconds=0.4, state_bytes=1 << 20, repetitions=reps,
                      refusals=("rm did not succeed in 1 of 3: guest refused: device busy (0x82) ×1",))
    result = RunResult("x", "debian:6.1", "6.1.0-57-amd64")
    result.add("repetition 1", "pass", "pass")
    result.info = replace(result.info, repeat=info)
    record = record_from_result(_spec("x"), ResultFile.from_json(result.artifact().to_json()), 9.0)
    words = "2 pass, 1 fail of 3; rm did not succeed in 1 of 3: guest refused: device busy (0x82) ×1"
    assert record.repeat == words and RunRecord.from_json(record.to_json()) == record
    matrix = MatrixResult("t", "t-1", "2026-01-01T00:00:00", 9.0, (record,))
    assert f"repetitions: {words}" in render_html(matrix, tmp_path, None)
    case = junit_xml(matrix, tmp_path).find("testsuite/testcase/system-out")
    assert case is not None and (case.text or "").endswith(f"; repetitions: {words}")


def test_a_repeating_matrix_runs_each_cell_with_repeat(tmp_path: Path) -> None:
    from harness.lab.cell import run_argv

    once = run_argv(_spec("x"), tmp_path, RunSettings())
    assert "--repeat" not in once
    assert run_argv(_spec("x"), tmp_path, RunSettings(repeat=20))[-2:] == ["--repeat", "20"]


def test_each_cell_runs_on_its_own_qemu(tmp_path: Path) -> None:
    from harness.lab.cell import run_argv

    argv = run_argv(replace(_spec("x"), qemu="/opt/qemu-10"), tmp_path, RunSettings())
    assert argv[argv.index("--qemu") + 1] == "/opt/qemu-10"
    default = run_argv(_spec("x"), tmp_path, RunSettings())
    assert default[default.index("--qemu") + 1] == "system"


def test_a_pvh_matrix_boots_each_cell_pvh(tmp_path: Path) -> None:
    from harness.lab.cell import run_argv

    argv = run_argv(_spec("x"), tmp_path, RunSettings(boot="pvh"))
    assert argv[argv.index("--boot") + 1] == "pvh"
    default = run_argv(_spec("x"), tmp_path, RunSettings())
    assert default[default.index("--boot") + 1] == "bzimage"


def test_a_cluster_without_guest_slots_is_one_line_not_a_matrix_that_waits_forever(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    from harness.errors import InfrastructureError

    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp") as cluster:
        with pytest.raises(InfrastructureError) as caught:
            execute(_matrix(), tmp_path, workers=1, run_fn=stub_run, scheduler=cluster.scheduler_address)
    assert "no worker advertises guests slots" in str(caught.value) and "\n" not in str(caught.value)
    assert "--resources guests=1" in str(caught.value)


def _lingering_run(run: RunSpec, out_dir: Path, settings: RunSettings) -> RunRecord:
    """A cell that is still running when its worker goes away."""
    time.sleep(5)
    return stub_run(run, out_dir, settings)


def test_cells_left_without_any_worker_with_slots_could_not_test(tmp_path: Path, monkeypatch) -> None:
    distributed = pytest.importorskip("distributed")
    from harness.lab import distributed as cluster_cells

    monkeypatch.setattr(cluster_cells, "ORPHAN_SECONDS", 1.0)
    monkeypatch.setattr(cluster_cells, "_POLL_SECONDS", 0.2)
    spec = MatrixSpec("t", (_spec("a"), _spec("b")), RunSettings(retries=0))
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None, host="127.0.0.1",
                                  protocol="tcp", resources={"guests": 1}) as cluster:
        with cluster_cells.ClusterCells(spec.runs, tmp_path, spec.settings, cluster.scheduler_address,
                                        _lingering_run) as cells:
            cluster.scale(0)  # every worker leaves while the first cell runs
            records = list(cells.finished())
    assert sorted(r.run_id for r in records) == sorted(r.run_id for r in spec.runs)
    assert all(r.verdict is Verdict.ERROR and r.reason.startswith("could not test: ") for r in records)
