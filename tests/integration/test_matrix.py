"""The matrix with real boots: a pass cell and its sibling sharing one boot, locally and
through a Dask cluster; two runs of one machine sharing its saved boot; and a Ctrl-C in
the middle of a matrix."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from child_signals import interruptible

from harness.lab.matrix import execute, run_matrix
from harness.lab.spec import load_matrix
from harness.run.artifacts import ResultFile
from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SMOKE = Path(__file__).resolve().parents[2] / "fixtures" / "matrix" / "smoke.toml"


def test_smoke_matrix_locally_with_reports_and_history(tmp_path: Path) -> None:
    """One boot for both cells: the sibling differs from its pass scenario only in what it
    expects, so it is judged on that boot, and must still fail exactly its false claims."""
    result = run_matrix(SMOKE, tmp_path / "out", workers=2, db=tmp_path / "h.sqlite",
                        progress=False)
    assert [r.verdict for r in result.records] == [Verdict.PASS, Verdict.FAIL], result.to_json()
    booted, judged = result.records
    assert booted.shared is None and judged.shared == f"judged on {booted.run_id}'s boot"
    judged_result = ResultFile.read(tmp_path / "out" / "runs" / judged.run_id / "result.json")
    assert judged_result.info.judged_on == str(tmp_path / "out" / "runs" / booted.run_id)
    assert set(judged.failed_checks) == set(judged.false_claims)
    assert result.ok and all(r.release and r.release.startswith("6.1.") for r in result.records)
    for record in result.records:
        folder = tmp_path / "out" / "runs" / record.run_id
        assert b"Linux version" in (folder / "console.log").read_bytes()
        assert json.loads((folder / "model.json").read_text())["boot_log"]["srat_memory"]
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    assert (tmp_path / "out" / "index.html").read_text().count("<svg") == 2
    assert (tmp_path / "h.sqlite").exists()


def test_one_boot_through_a_local_dask_cluster(tmp_path: Path) -> None:
    """The smoke matrix's two cells are one task on the worker: one boot, the sibling
    judged on it, both folders shipped back (the sibling's console is the boot's)."""
    distributed = pytest.importorskip("distributed")
    spec = load_matrix(SMOKE)
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp", resources={"guests": 1}) as cluster:
        result = execute(spec, tmp_path, workers=1, scheduler=cluster.scheduler_address)
    record, judged = result.records
    assert record.verdict is Verdict.PASS, record
    folder = tmp_path / "runs" / record.run_id
    assert b"Linux version" in (folder / "console.log").read_bytes()
    assert json.loads((folder / "result.json").read_text())["verdict"] == "pass"
    assert not (folder / "initrd.img").exists()  # rebuilt from the scenario, never shipped
    assert judged.ok and judged.shared == f"judged on {record.run_id}'s boot", judged
    sibling = tmp_path / "runs" / judged.run_id
    assert (sibling / "console.log").read_bytes() == (folder / "console.log").read_bytes()
    assert (sibling / "worker.txt").exists()


def _qemu_of(folder: Path) -> list[int]:
    """QEMUs whose command line names this cell's folder."""
    needle = str(folder).encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if argv.startswith(b"qemu-system") or b"/qemu-system" in argv.split(b"\0")[0]:
            found += [int(entry.name)] if needle in argv else []
    return found


def test_ctrl_c_stops_a_running_matrix_with_its_partial_reports_and_history(tmp_path: Path) -> None:
    """SIGINT to the matrix's process group, as a terminal's Ctrl-C, while the second cell
    boots: exit 130, the first cell recorded, the second interrupted with its console."""
    out, db = tmp_path / "out", tmp_path / "h.sqlite"
    # The smoke matrix with a boot per cell: its sibling would be judged on the first
    # cell's boot, and this test stops a second boot.
    matrix = tmp_path / "smoke.toml"
    matrix.write_text(SMOKE.read_text().replace("../scenarios/", f"{SMOKE.parent.parent}/scenarios/")
                      + "share_boots = false\n")
    spec = load_matrix(matrix)
    first, second = (out / "runs" / run.run_id for run in spec.runs)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "matrix", str(matrix), "--workers", "1",
                             "--out", str(out), "--db", str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=interruptible)
    try:
        console = second / "console.log"
        deadline = time.monotonic() + 240
        while not (console.exists() and console.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert console.stat().st_size > 0, "the second cell never booted"
        qemus = _qemu_of(second)
        assert qemus
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)  # a hang guard, not a speed claim
    finally:
        proc.kill()
    assert proc.returncode == 130 and stderr.splitlines()[-1] == "memhp: interrupted", stderr
    assert "Traceback" not in stderr and "INTERRUPTED: 1 stopped, 0 not run" in stdout
    assert not any(Path(f"/proc/{pid}").exists() for pid in qemus)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and summary["interrupted_runs"] == [second.name]
    assert [r["status"] for r in summary["runs"]] == ["finished", "interrupted"]
    assert summary["runs"][0]["verdict"] == "pass" and summary["runs"][1]["attempts"] == 1
    assert summary["runs"][0]["boot_seconds"] > 0 and summary["runs"][0]["action_seconds"] >= 0
    assert b"Linux version" in console.read_bytes() and (first / "model.json").exists()
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("skipped")) == ("2", "1")
    assert (out / "index.html").exists()
    with sqlite3.connect(db) as history:
        assert history.execute("SELECT run_id, verdict FROM runs").fetchall() == [(first.name, "pass")]


def test_cells_of_one_machine_restore_one_saved_boot(tmp_path: Path) -> None:
    """two-node-dimms and its sibling run other actions on the same machine and command
    line: one boot, its guest saved before any action, the pass scenario's actions in the
    booted QEMU, the sibling's in a QEMU restored from the saved guest, judged as a run of
    its own (and still failing exactly its false claims); the reports say so."""
    matrix = tmp_path / "m.toml"
    scenarios = SMOKE.parent.parent / "scenarios"
    matrix.write_text(f'name = "machine"\nkernels = ["debian:6.1"]\naccel = "tcg"\nretries = 0\n'
                      f'restore_boots = true\nscenarios = ["{scenarios}/two-node-dimms.toml"]\n'
                      f'must_fail = ["{scenarios}/must-fail/two-node-dimms-claims-refused.toml"]\n')
    out = tmp_path / "out"
    result = run_matrix(matrix, out, workers=2, db=None, progress=False)
    booted, restored = result.records
    assert (booted.verdict, restored.verdict) == (Verdict.PASS, Verdict.FAIL) and result.ok, result.to_json()
    assert booted.shared == "its boot saved before its actions, restored by 1 more run(s)" and booted.booted
    assert restored.shared == f"restored from {booted.run_id}'s saved boot" and not restored.booted
    assert set(restored.failed_checks) == set(restored.false_claims)
    first, second = (out / "runs" / r.run_id for r in result.records)
    saved = first / "saved"
    assert b"Linux version" in (saved / "console.log").read_bytes()
    assert not list((out / "runs").glob("**/state.bin")), "the saved guest is deleted"
    assert b"Linux version" in (first / "console.log").read_bytes()
    assert ResultFile.read(first / "result.json").info.restored_from is None
    again = ResultFile.read(second / "result.json")
    assert again.info.restored_from == str(saved)
    checks = {c.name: c for c in again.checks}
    assert checks["restored guest is the booted one (boot_id)"].ok
    assert checks["restored DIMMs are the scenario's coldplugged ones"].ok
    # The restored guest printed no new boot: it continued the saved one.
    assert b"Linux version" not in (second / "console.log").read_bytes()
    assert "-incoming fd:" in (second / "command.txt").read_text()
    assert "restored from" in (out / "junit.xml").read_text()
