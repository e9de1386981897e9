"""The matrix with real boots: two cells locally in parallel, one through a Dask cluster."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from harness.lab.matrix import execute, run_matrix
from harness.lab.spec import load_matrix
from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SMOKE = Path(__file__).resolve().parents[2] / "fixtures" / "matrix" / "smoke.toml"


def test_smoke_matrix_locally_with_reports_and_history(tmp_path: Path) -> None:
    result = run_matrix(SMOKE, tmp_path / "out", workers=2, db=tmp_path / "h.sqlite",
                        progress=False)
    assert [r.verdict for r in result.records] == [Verdict.PASS, Verdict.FAIL], result.to_json()
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
    distributed = pytest.importorskip("distributed")
    spec = load_matrix(SMOKE)
    spec = replace(spec, runs=spec.runs[:1])
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp") as cluster:
        result = execute(spec, tmp_path, workers=1, scheduler=cluster.scheduler_address)
    (record,) = result.records
    assert record.verdict is Verdict.PASS, record
    folder = tmp_path / "runs" / record.run_id
    assert b"Linux version" in (folder / "console.log").read_bytes()
    assert json.loads((folder / "result.json").read_text())["verdict"] == "pass"
    assert not (folder / "initrd.img").exists()  # rebuilt from the scenario, never shipped
