from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from report_data import record, result

from harness.errors import BadInputError
from harness.lab.history import History, format_history, release_key
from harness.lab.results import RunRecord
from harness.run.verdict import Verdict

OLD, NEW = "6.1.0-56-amd64", "6.12.57+deb13-amd64"


def _fill(db: Path) -> None:
    nights = [
        ("n1", "2026-11-20T01:00:00+00:00", Verdict.PASS, Verdict.PASS),
        ("n2", "2026-11-21T01:00:00+00:00", Verdict.FAIL, Verdict.ERROR),
        ("n3", "2026-11-22T01:00:00+00:00", Verdict.PASS, Verdict.PASS),
    ]
    with History(db) as history:
        for run_id, date, flappy, infra in nights:
            history.record(result((
                record("a@debian-6.1+default", Verdict.PASS, release=OLD),
                record("a@debian-6.12+default", Verdict.FAIL, release=NEW, kernel="debian:6.12"),
                record("b@debian-6.1+default", flappy, release=OLD),
                record("c@debian-6.1+default", infra, release=OLD),
            ), run_id, date))


def test_release_key_orders_versions_numerically() -> None:
    assert sorted(["6.12.57+deb13-amd64", "6.1.0-56-amd64", "6.1.0-9-amd64"], key=release_key) == \
           ["6.1.0-9-amd64", "6.1.0-56-amd64", "6.12.57+deb13-amd64"]


def test_trends_first_failure_and_flaky(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _fill(db)
    with History(db) as history:
        trends = {(t.scenario, t.kernel): t for t in history.trend_rows()}
        firsts = history.first_failures()
        flaky = history.flaky()
    assert [o.verdict for o in trends[("b", "debian:6.1")].outcomes] == \
           [Verdict.PASS, Verdict.FAIL, Verdict.PASS]
    assert [(f.scenario, f.release, f.last_good_release) for f in firsts] == \
           [("a", NEW, OLD), ("b", OLD, None)]
    assert [(f.scenario, f.verdicts) for f in flaky] == [
        ("b", (Verdict.PASS, Verdict.FAIL, Verdict.PASS)),
        ("c", (Verdict.PASS, Verdict.ERROR, Verdict.PASS))]


def test_format_history_and_recording_twice_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _fill(db)
    _fill(db)
    text = format_history(db)
    assert "  b " in text and "pFp" in text
    assert "a [default]: 6.12.57+deb13-amd64 (last good: 6.1.0-56-amd64)" in text


def test_missing_or_foreign_database_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no history database"):
        format_history(tmp_path / "none.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(BadInputError, match="junk.sqlite: not a memhp history database"):
        format_history(junk)


Q72 = "QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
Q10 = "QEMU 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)"


def _on(qemu: str, spec: str, rec: RunRecord) -> RunRecord:
    return dataclasses.replace(rec, qemu=spec, qemu_version=qemu, machine="pc-i440fx", accel="tcg",
                               run_id=rec.run_id + ("" if spec == "system" else "+qemu-10"))


def test_a_qemu_crash_on_one_qemu_is_a_qemu_difference_not_a_kernel_failure(tmp_path: Path) -> None:
    """The reproducer: ERROR (QEMU crashed) on 7.2, PASS on 10.0, one kernel release."""
    db = tmp_path / "h.sqlite"
    with History(db) as history:
        history.record(result((_on(Q72, "system", record("bug@debian-6.1+default", Verdict.ERROR, release=OLD)),
                               _on(Q10, "q10", record("bug@debian-6.1+default", Verdict.PASS, release=OLD)))))
        assert history.first_failures() == []
        (diff,) = history.qemu_differences()
        assert (diff.scenario, diff.release) == ("bug", OLD)
        assert diff.outcomes == ((Q10, Verdict.PASS, True), (Q72, Verdict.ERROR, False))
        assert {t.qemu for t in history.trend_rows()} == {Q72, Q10}
    text = format_history(db)
    assert f"bug [default] on {OLD}: {Q10} pass; {Q72} error (unexpected)" in text


def test_a_history_written_before_qemu_was_recorded_still_opens(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (matrix_run TEXT NOT NULL, matrix TEXT NOT NULL, date TEXT NOT NULL, "
                "run_id TEXT NOT NULL, kernel TEXT NOT NULL, release TEXT, scenario TEXT NOT NULL, "
                "variant TEXT NOT NULL, expect TEXT NOT NULL, verdict TEXT NOT NULL, ok INTEGER NOT NULL, "
                "failed_checks TEXT NOT NULL, PRIMARY KEY (matrix_run, run_id))")
    con.execute("INSERT INTO runs VALUES ('r','m','2026-11-01','a@x','debian:6.1',?, 'a','default',"
                "'pass','pass',1,'[]')", (OLD,))
    con.commit()
    con.close()
    with History(db) as history:
        history.record(result((_on(Q10, "q10", record("a@debian-6.1+default", Verdict.PASS, release=OLD)),)))
        assert {t.qemu for t in history.trend_rows()} == {"QEMU not recorded", Q10}


def test_the_html_report_lists_qemu_differences(tmp_path: Path) -> None:
    from harness.lab.reports.html import render_html

    crashed = _on(Q72, "system", record("bug@debian-6.1+default", Verdict.ERROR, release=OLD))
    passed = _on(Q10, "q10", record("bug@debian-6.1+default", Verdict.PASS, release=OLD))
    with History(tmp_path / "h.sqlite") as history:
        history.record(result((crashed, passed)))
        page = render_html(result((crashed, passed)), tmp_path, history.trend_rows(), history.qemu_differences())
    assert "<h2>QEMU differences</h2>" in page and f"<td>bug</td><td>{OLD}</td>" in page
    assert f"{Q72}: " in page and "error</span> (unexpected)" in page
