"""mem-on-off-test.sh's output → TAP, on a real guest's output (6.1, -r 5) and on the
failure shapes the script prints; and the TAP results as JUnit testcases."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from report_data import model_file, record, result, write_runs

from harness.guest.command import CommandRecord
from harness.guest.selftest_tap import TapTest, selftest_tap, tap_text
from harness.lab.reports.junit import write_junit
from harness.logparse import load_boot_log
from harness.run.artifacts import ActionRecord
from harness.run.verdict import Verdict

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REAL = (FIXTURES / "selftest" / "mem-on-off-6.1-r5.out").read_text()


def test_real_run_gives_one_test_per_step_and_the_tap_the_run_wrote() -> None:
    tests = selftest_tap(REAL, 0, False)
    assert (FIXTURES / "selftest" / "mem-on-off-6.1-r5.tap").read_text() == tap_text(tests)
    assert [t.name for t in tests if not t.ok] == ["offline memory0", "offline memory1"]
    assert not any(t.failed for t in tests)  # refusals are TODO: the script tolerates them
    assert TapTest("notifier error injection tests", True, "SKIP debugfs is not mounted") in tests


def test_unexpected_online_failure_and_missed_target_fail() -> None:
    out = ("\t trying to offline 1 out of 8 memory block(s):\nonline->offline memory3\n-> Failure\n"
           "\t\t FAILED - unable to offline some memory blocks, device busy?\n"
           "offline->online memory5\nonline_memory_expect_success 5: unexpected fail\n")
    tests = selftest_tap(out, 1, False)
    failed = [t.name for t in tests if t.failed]
    assert failed == ["online memory5: unexpected fail", "offline the ratio's target of blocks",
                      "mem-on-off-test.sh exit status 1"]


def test_skip_all_and_timeout() -> None:
    skipped = selftest_tap("skip all tests: no hot-pluggable memory\n", 4, False)
    assert [t.directive for t in skipped] == ["SKIP no hot-pluggable memory", "SKIP exit 4"]
    hung = selftest_tap("online->offline memory9\n", 137, True)
    # the step cut short is a tolerated refusal (TODO); the kill itself fails
    assert [t.name for t in hung if t.failed] == ["mem-on-off-test.sh finished"]
    assert [t.name for t in hung if not t.ok] == ["offline memory9", "mem-on-off-test.sh finished"]


def _selftest_action() -> ActionRecord:
    tap = tuple(selftest_tap("online->offline memory3\n-> Success\n"
                             "offline->online memory3\nonline_memory_expect_success 3: unexpected fail\n"
                             "skip extra tests: debugfs is not mounted\n", 1, False))
    command = CommandRecord(argv=("bash",), status=1, timed_out=False, seconds=1.0, stdout_size=0,
                            stderr_size=0, truncated=False, stdout_tail=(), stderr_tail=(), tap=tap)
    return ActionRecord(id="mem-on-off", do="selftest", expected="success", observed="failure", ok=False,
                        reason="", seconds=1.0, blocks=(), unplug=None, dimm=None,
                        console_evidence=(), command=command)


def test_tap_results_are_junit_testcases_of_their_own(tmp_path: Path) -> None:
    res = result((record("a@debian-6.1+default", Verdict.PASS),))
    write_runs(tmp_path / "runs", res)
    log = load_boot_log(FIXTURES / "logs" / "recorded" / "memhp-6.1-two-node-selftest.log")
    model_file(log, actions=(_selftest_action(),)).write(tmp_path / "runs" / res.records[0].run_id / "model.json")
    write_junit(res, tmp_path / "runs", tmp_path / "junit.xml")
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "1")
    taps = [c for c in suite.iter("testcase") if c.get("classname", "").endswith(".mem-on-off")]
    assert [c.get("name") for c in taps] == ["offline memory3", "online memory3: unexpected fail",
                                             "notifier error injection tests",
                                             "mem-on-off-test.sh exit status 1"]
    assert taps[1].find("failure") is not None and taps[2].find("skipped") is not None
    assert taps[0].find("failure") is None
