from __future__ import annotations

from pathlib import Path

import pytest
from report_data import record, result

from harness.errors import BadInputError
from harness.lab.history import History, format_history, release_key
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
