"""The history of matrix runs in SQLite: trends per scenario × kernel × QEMU, the first kernel
release a scenario fails on (per QEMU), flaky cells (same inputs, different verdicts), and
QEMU differences (same scenario and kernel release, another outcome on another QEMU: a
QEMU bug or fix, not a kernel regression)."""
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
# Added after the first histories were written: older databases get it, empty, on open.
_QEMU_COLUMN = "ALTER TABLE runs ADD COLUMN qemu TEXT NOT NULL DEFAULT ''"
_UNKNOWN_QEMU = "QEMU not recorded"
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
    qemu: str = _UNKNOWN_QEMU


@dataclass(frozen=True)
class FirstFailure:
    scenario: str
    variant: str
    release: str
    last_good_release: str | None  # the newest release below it with only expected outcomes
    qemu: str = _UNKNOWN_QEMU


@dataclass(frozen=True)
class Flaky:
    scenario: str
    variant: str
    kernel: str
    release: str | None
    verdicts: tuple[Verdict, ...]
    qemu: str = _UNKNOWN_QEMU


@dataclass(frozen=True)
class QemuDifference:
    """One scenario on one kernel release, as expected on some QEMUs and not on others."""

    scenario: str
    variant: str
    release: str
    outcomes: tuple[tuple[str, Verdict, bool], ...]  # (QEMU, its last verdict, as expected)


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
        try:
            if "qemu" not in {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}:
                self.db.execute(_QEMU_COLUMN)
        except sqlite3.Error as err:
            self.db.close()
            raise BadInputError(f"{path}: cannot add the qemu column: {err}") from None

    def _check(self) -> None:
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return  # new: memhp's own from now on
        if tables != {"runs"}:
            raise BadInputError(f"holds tables {', '.join(sorted(tables))}, not memhp's 'runs'")
        columns = [row[1] for row in self.db.execute("PRAGMA table_info(runs)")]
        if columns not in (_COLUMNS, [*_COLUMNS, "qemu"]):
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
            "INSERT OR REPLACE INTO runs (matrix_run, matrix, date, run_id, kernel, release, scenario, "
            "variant, expect, verdict, ok, failed_checks, qemu) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(result.run_id, result.name, result.started, r.run_id, r.kernel, r.release,
              r.scenario, r.variant, r.expect.value, r.verdict.value, int(r.ok),
              json.dumps(list(r.failed_checks)), r.qemu_shown) for r in result.records
             if r.status is CellStatus.FINISHED])

    def _outcomes(self, where: str = "") -> list[tuple[str, ...]]:
        return self.db.execute(
            "SELECT scenario, variant, kernel, matrix_run, date, release, verdict, ok, "
            f"COALESCE(NULLIF(qemu, ''), '{_UNKNOWN_QEMU}') FROM runs "
            f"{where} ORDER BY date, matrix_run").fetchall()

    def trend_rows(self) -> list[Trend]:
        rows: dict[tuple[str, str, str, str], list[Outcome]] = {}
        for scenario, variant, kernel, run, date, release, verdict, ok, qemu in self._outcomes():
            rows.setdefault((scenario, variant, kernel, qemu), []).append(
                Outcome(run, date, release, Verdict(verdict), bool(ok)))
        return [Trend(s, v, k, tuple(o[-TREND_LENGTH:]), q) for (s, v, k, q), o in sorted(rows.items())]

    def first_failures(self) -> list[FirstFailure]:
        """Per scenario × variant × QEMU, the lowest release with an unexpected verdict
        (could-not-test runs say nothing about the kernel and are left out; kernels are
        compared on one QEMU only)."""
        good: dict[tuple[str, str, str], dict[str, bool]] = {}
        for scenario, variant, _, _, _, release, verdict, ok, qemu in self._outcomes("WHERE release IS NOT NULL"):
            if not Verdict(verdict).tested:
                continue
            per = good.setdefault((scenario, variant, qemu), {})
            per[release] = per.get(release, True) and bool(ok)
        found = []
        for (scenario, variant, qemu), per in sorted(good.items()):
            releases = sorted(per, key=release_key)
            bad = [r for r in releases if not per[r]]
            if bad:
                below = [r for r in releases[:releases.index(bad[0])] if per[r]]
                found.append(FirstFailure(scenario, variant, bad[0], below[-1] if below else None, qemu))
        return found

    def qemu_differences(self) -> list[QemuDifference]:
        """Scenario × variant × kernel release run on several QEMUs whose latest outcomes
        differ in being as expected: a QEMU's doing, whatever the kernel does."""
        last: dict[tuple[str, str, str], dict[str, tuple[Verdict, bool]]] = {}
        for scenario, variant, _, _, _, release, verdict, ok, qemu in self._outcomes("WHERE release IS NOT NULL"):
            last.setdefault((scenario, variant, release), {})[qemu] = (Verdict(verdict), bool(ok))
        return [QemuDifference(s, v, r, tuple((q, vd, ok) for q, (vd, ok) in sorted(per.items())))
                for (s, v, r), per in sorted(last.items())
                if len(per) > 1 and len({ok for _, ok in per.values()}) > 1]

    def flaky(self) -> list[Flaky]:
        seen: dict[tuple[str, str, str, str | None, str], list[Verdict]] = {}
        for scenario, variant, kernel, _, _, release, verdict, _, qemu in self._outcomes():
            seen.setdefault((scenario, variant, kernel, release, qemu), []).append(Verdict(verdict))
        return [Flaky(s, v, k, r, tuple(vs), q) for (s, v, k, r, q), vs in sorted(seen.items(),
                key=lambda item: tuple(map(str, item[0]))) if len(set(vs)) > 1]


_MARK = {Verdict.PASS: "P", Verdict.FAIL: "F", Verdict.ERROR: "E", Verdict.BAD_INPUT: "B"}


def format_history(db: Path | None = None) -> str:
    """What ``memhp history`` prints (default database: ``out/history.sqlite``)."""

    db = db or DEFAULT_HISTORY
    if not db.exists() and not db.is_symlink():  # a symlink loop is History's to name
        raise BadInputError(f"{db}: no history database (run memhp matrix first)")
    with History(db) as history:
        trends, firsts, flaky = history.trend_rows(), history.first_failures(), history.flaky()
        differences = history.qemu_differences()
    lines = ["trends (oldest → newest; P pass, F fail, E could not test, B bad input; "
             "lower case = the expected verdict):"]
    for t in trends:
        marks = "".join(_MARK[o.verdict].lower() if o.ok else _MARK[o.verdict] for o in t.outcomes)
        lines.append(f"  {t.scenario:<44} {t.kernel:<12} {t.variant:<10} {marks:<20} {t.qemu}")
    lines.append("first failing kernel release (per QEMU):")
    lines += [f"  {f.scenario} [{f.variant}]: {f.release} (last good: {f.last_good_release or 'none'}) "
              f"on {f.qemu}" for f in firsts] or ["  none"]
    lines.append("flaky (same scenario, variant, kernel release and QEMU, different verdicts):")
    lines += [f"  {f.scenario} [{f.variant}] on {f.kernel} ({f.release}), {f.qemu}: "
              + ", ".join(v.value for v in f.verdicts) for f in flaky] or ["  none"]
    lines.append("QEMU differences (same scenario and kernel release, another outcome on another "
                 "QEMU: not the kernel's doing):")
    lines += [f"  {d.scenario} [{d.variant}] on {d.release}: "
              + "; ".join(f"{q} {v.value}{'' if ok else ' (unexpected)'}" for q, v, ok in d.outcomes)
              for d in differences] or ["  none"]
    return "\n".join(lines)
