"""``memhp matrix``: every cell of a matrix file, in parallel here or on a Dask cluster,
then the JUnit/JSON/HTML reports and the history database.

Output folder::

    OUT/runs/<run_id>/      one folder per cell (console.log, model.json, result.json, …)
    OUT/summary.json        the MatrixResult
    OUT/junit.xml, OUT/index.html
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from harness.errors import BadInputError
from harness.lab.cell import run_in_subprocess, run_with_retries, stop_all
from harness.lab.history import History
from harness.lab.reports.html import write_html
from harness.lab.reports.junit import write_junit
from harness.lab.results import DEFAULT_HISTORY, MatrixResult, RunFn, RunRecord
from harness.lab.spec import MatrixSpec, RunSettings, RunSpec, load_matrix
from harness.run.artifacts import ensure_out_dir

# The project's own nightly plan over its fixtures/scenarios: a checkout has it, a wheel does not.
DEFAULT_MATRIX = Path(__file__).resolve().parents[2] / "fixtures" / "matrix" / "nightly.toml"


def default_matrix() -> Path:
    """DEFAULT_MATRIX, or one line saying it exists only in a memhp checkout."""
    if not DEFAULT_MATRIX.is_file():
        raise BadInputError(f"matrix: no matrix file given, and the default nightly matrix is only in "
                            f"a memhp checkout (not at {DEFAULT_MATRIX}): give a matrix file, e.g. "
                            "memhp matrix CHECKOUT/fixtures/matrix/nightly.toml")
    return DEFAULT_MATRIX


def run_local(runs: Iterable[RunSpec], runs_dir: Path, settings: RunSettings, workers: int,
              run_fn: RunFn) -> Iterator[RunRecord]:
    """Records as cells finish; threads only wait, each cell's work is its own process."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_with_retries, run, runs_dir / run.run_id, settings, run_fn)
                   for run in runs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            stop_all()
            raise


def _progress(total: int, records: Iterator[RunRecord], show: bool) -> list[RunRecord]:
    if not show:
        return list(records)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    done: list[RunRecord] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("matrix", total=total)
        for record in records:
            done.append(record)
            mark = "ok" if record.ok else "UNEXPECTED"
            bar.console.log(f"{record.run_id}: {record.verdict.value} ({mark})")
            bar.advance(task)
    return done


def execute(spec: MatrixSpec, out_dir: Path, workers: int, run_fn: RunFn = run_in_subprocess,
            scheduler: str | None = None, progress: bool = False) -> MatrixResult:
    """Run every cell and return the records in matrix order (no reports written)."""
    started = dt.datetime.now(dt.timezone.utc)
    begin = time.monotonic()
    runs_dir = ensure_out_dir(out_dir / "runs")
    if scheduler:
        from harness.lab.distributed import run_on_cluster
        stream = run_on_cluster(spec.runs, runs_dir, spec.settings, scheduler, run_fn)
    else:
        stream = run_local(spec.runs, runs_dir, spec.settings, workers, run_fn)
    by_id = {r.run_id: r for r in _progress(len(spec.runs), stream, progress)}
    return MatrixResult(spec.name, f"{spec.name}-{started:%Y%m%dT%H%M%S}", started.isoformat(),
                        time.monotonic() - begin, tuple(by_id[r.run_id] for r in spec.runs))


def write_reports(result: MatrixResult, out_dir: Path, db: Path | None) -> None:
    (out_dir / "summary.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    write_junit(result, out_dir / "runs", out_dir / "junit.xml")
    trends = None
    if db is not None:
        with History(db) as history:
            history.record(result)
            trends = history.trend_rows()
    write_html(result, out_dir / "runs", out_dir / "index.html", trends)


def run_matrix(matrix: Path | None = None, out_dir: Path | None = None,
               workers: int | None = None, scheduler: str | None = None,
               db: Path | None = DEFAULT_HISTORY, progress: bool = True,
               run_fn: RunFn = run_in_subprocess) -> MatrixResult:
    """Load, run, report and record a matrix (``db=None``: no history); ``memhp matrix``."""
    spec = load_matrix(matrix or default_matrix())
    out = out_dir or Path("out") / "matrix" / spec.name
    result = execute(spec, out, workers or os.cpu_count() or 1, run_fn, scheduler, progress)
    write_reports(result, out, db)
    return result


def summary_text(result: MatrixResult) -> str:
    lines = [f"{r.run_id:<60} {r.verdict.value:<9} {'ok' if r.ok else 'UNEXPECTED'}"
             + (f"  {r.reason}" if not r.ok and r.reason else "") for r in result.records]
    bad = sum(not r.ok for r in result.records)
    lines.append(f"{len(result.records)} runs in {result.seconds:.0f} s, {bad} unexpected")
    return "\n".join(lines)
