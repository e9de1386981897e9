from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from report_data import record, result, write_runs

from harness.lab.reports.junit import write_junit
from harness.run.verdict import Verdict


def test_one_testcase_per_run_failures_carry_reason_and_console_tail(tmp_path: Path) -> None:
    res = result((record("a@debian-6.1+default", Verdict.PASS),
                  record("b@debian-6.1+default", Verdict.FAIL),
                  record("c@debian-6.1+default", Verdict.FAIL, expect=Verdict.FAIL),
                  record("d@debian-6.1+default", Verdict.ERROR)))
    write_runs(tmp_path / "runs", res)
    write_junit(res, tmp_path / "runs", tmp_path / "junit.xml")
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["a"].find("failure") is None and cases["c"].find("failure") is None
    failure = cases["b"].find("failure")
    assert failure is not None and "verdict fail, expected pass: movable" in failure.get("message", "")
    assert "line 99" in (failure.text or "") and "line 59" not in (failure.text or "")
    error = cases["d"].find("error")
    assert error is not None and "QEMU died" in error.get("message", "")
    assert cases["a"].get("classname") == "debian:6.1.default"
