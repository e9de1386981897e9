"""The history of matrix runs in SQLite: trends per scenario × kernel, the first kernel
release a scenario fails on, and flaky cells (same inputs, different verdicts)."""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from harness.errors import BadInputError, Verdict
from harness.lab.results import DEFAULT_HISTORY, CellStatus, MatrixResult
from harness.userinput import DATABASE, check_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    matrix_run TEXT NOT NULL, matrix TEXT NOT NULL, date TEXT NOT NULL, run_id TEXT NOT NULL,
    kernel TEXT NOT NULL, release TEXT, scenario TEXT NOT NULL, variant TEXT NOT NULL,
    expect TEXT NOT NULL, verdict TEXT NOT NULL, ok INTEGER NOT NULL, failed_checks TEXT NOT NULL,
    PRIMARY KEY (matrix_run, run_id))
"""
_COLUMNS = ["matrix_run", "matrix", "date", "run_id", "kernel", "release", "scenario", "variant",
            "expect", "verdict", "ok", "failed_checks"]
TREND_LENGTH = 20


@dataclass(frozen=True)
class Outcome:
    matrix_run: str
    date: str
    release: str | None
    verdict: Verdict
    ok: bool


@dataclass(frozen=True)
class Trend:
    scenario: str
    variant: str
    kernel: str
    outcomes: tuple[Outcome, ...]  # oldest first, the last TREND_LENGTH


@dataclass(frozen=True)
class FirstFailure:
    scenario: str
    variant: str
    release: str
    last_good_release: str | None  # the newest release below it with only expected outcomes


@dataclass(frozen=True)
class Flaky:
    scenario: str
    variant: str
    kernel: str
    release: str | None
    verdicts: tuple[Verdict, ...]


def release_key(release: str) -> tuple[int, ...]:
    """``6.1.0-56-amd64`` → (6, 1, 0, 56, 64): orders Debian releases by version."""
    return tuple(int(n) for n in re.findall(r"\d+", release))


class History:
    """A history database; a context manager that commits on success."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the database; one that is not memhp's (another file kind,
        another schema, corrupt pages, unknown verdicts) is bad input, refused before any
        write, so that a matrix can check it before its first cell."""
        if path.exists() or path.is_symlink():
            check_file(path, DATABASE)
        elif not path.parent.is_dir():
            raise BadInputError(f"{path}: no such folder for the history database")
        try:
            self.db = sqlite3.connect(path)
        except sqlite3.Error as err:
            raise BadInputError(f"{path}: cannot open the history database: {err}") from None
        try:
            self._check()
            self.db.execute(_SCHEMA)
        except (sqlite3.Error, BadInputError) as err:
            self.db.close()
            raise BadInputError(f"{path}: not a memhp history database: {err}") from None

    def _check(self) -> None:
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return  # new: memhp's own from now on
        if tables != {"runs"}:
            raise BadInputError(f"holds tables {', '.join(sorted(tables))}, not memhp's 'runs'")
        columns = [row[1] for row in self.db.execute("PRAGMA table_info(runs)")]
        if columns != _COLUMNS:
            raise BadInputError(f"runs has columns {', '.join(columns)}")
        (problem,) = self.db.execute("PRAGMA quick_check").fetchone()
        if problem != "ok":
            raise BadInputError(f"corrupt: {problem}")
        known = {v.value for v in Verdict}
        found = {v for row in self.db.execute("SELECT DISTINCT verdict FROM runs UNION "
                                              "SELECT DISTINCT expect FROM runs") for v in row}
        if found - known:
            raise BadInputError(f"unknown verdict(s) {', '.join(sorted(map(str, found - known)))}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.db.commit()
        self.db.close()

    def record(self, result: MatrixResult) -> None:
        """The cells that finished; interrupted and unstarted ones say nothing about a kernel."""
        self.db.executemany(
            "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(result.run_id, result.name, result.started, r.run_id, r.kernel, r.release,
              r.scenario, r.variant, r.expect.value, r.verdict.value, int(r.ok),
              json.dumps(list(r.failed_checks))) for r in result.records
             if r.status is CellStatus.FINISHED])

    def _outcomes(self, where: str = "") -> list[tuple[str, ...]]:
        return self.db.execute(
            "SELECT scenario, variant, kernel, matrix_run, date, release, verdict, ok FROM runs "
            f"{where} ORDER BY date, matrix_run").fetchall()

    def trend_rows(self) -> list[Trend]:
        rows: dict[tuple[str, str, str], list[Outcome]] = {}
        for scenario, variant, kernel, run, date, release, verdict, ok in self._outcomes():
            rows.setdefault((scenario, variant, kernel), []).append(
                Outcome(run, date, release, Verdict(verdict), bool(ok)))
        return [Trend(s, v, k, tuple(o[-TREND_LENGTH:])) for (s, v, k), o in sorted(rows.items())]

    def first_failures(self) -> list[FirstFailure]:
        """Per scenario × variant, the lowest release with an unexpected verdict (could-not-test
        runs say nothing about the kernel and are left out)."""
        good: dict[tuple[str, str], dict[str, bool]] = {}
        for scenario, variant, _, _, _, release, verdict, ok in self._outcomes("WHERE release IS NOT NULL"):
            if not Verdict(verdict).tested:
                continue
            per = good.setdefault((scenario, variant), {})
            per[release] = per.get(release, True) and bool(ok)
        found = []
        for (scenario, variant), per in sorted(good.items()):
            releases = sorted(per, key=release_key)
            bad = [r for r in releases if not per[r]]
            if bad:
                below = [r for r in releases[:releases.index(bad[0])] if per[r]]
                found.append(FirstFailure(scenario, variant, bad[0], below[-1] if below else None))
        return found

    def flaky(self) -> list[Flaky]:
        seen: dict[tuple[str, str, str, str | None], list[Verdict]] = {}
        for scenario, variant, kernel, _, _, release, verdict, _ in self._outcomes():
            seen.setdefault((scenario, variant, kernel, release), []).append(Verdict(verdict))
        return [Flaky(s, v, k, r, tuple(vs)) for (s, v, k, r), vs in sorted(seen.items(),
                key=lambda item: tuple(map(str, item[0]))) if len(set(vs)) > 1]


_MARK = {Verdict.PASS: "P", Verdict.FAIL: "F", Verdict.ERROR: "E", Verdict.BAD_INPUT: "B"}


def format_history(db: Path | None = None) -> str:
    """What ``memhp history`` prints (default database: ``out/history.sqlite``)."""

    db = db or DEFAULT_HISTORY
    if not db.exists() and not db.is_symlink():  # a symlink loop is History's to name
        raise BadInputError(f"{db}: no history database (run memhp matrix first)")
    with History(db) as history:
        trends, firsts, flaky = history.trend_rows(), history.first_failures(), history.flaky()
    lines = ["trends (oldest → newest; P pass, F fail, E could not test, B bad input; "
             "lower case = the expected verdict):"]
    for t in trends:
        marks = "".join(_MARK[o.verdict].lower() if o.ok else _MARK[o.verdict] for o in t.outcomes)
        lines.append(f"  {t.scenario:<44} {t.kernel:<12} {t.variant:<10} {marks}")
    lines.append("first failing kernel release:")
    lines += [f"  {f.scenario} [{f.variant}]: {f.release} (last good: {f.last_good_release or 'none'})"
              for f in firsts] or ["  none"]
    lines.append("flaky (same scenario, variant and kernel release, different verdicts):")
    lines += [f"  {f.scenario} [{f.variant}] on {f.kernel} ({f.release}): "
              + ", ".join(v.value for v in f.verdicts) for f in flaky] or ["  none"]
    return "\n".join(lines)
