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
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Protocol

from harness.errors import BadInputError
from harness.lab.cell import not_run_record, run_group, run_in_subprocess, run_with_retries, stop_cells
from harness.lab.history import History
from harness.lab.reports.html import write_html
from harness.lab.reports.junit import write_junit
from harness.lab.results import DEFAULT_HISTORY, CellStatus, MatrixResult, RunFn, RunRecord
from harness.lab.sharing import BootGroup, SharedRun, boot_groups
from harness.lab.spec import MatrixSpec, RunSettings, RunSpec, load_matrix
from harness.paths import write_atomic
from harness.run.run_folder import artifact_writes, ensure_out_dir

# The project's own nightly plan over its fixtures/scenarios: a checkout has it, a wheel does not.
DEFAULT_MATRIX = Path(__file__).resolve().parents[2] / "fixtures" / "matrix" / "nightly.toml"


class Cells(Protocol):
    """The cells of a matrix being run, here or on a cluster."""

    def finished(self) -> Iterator[RunRecord]:
        """Records as cells finish."""

    def stop(self) -> list[RunRecord]:
        """Stop every cell; the records of those that had started, once they have ended."""

    def __enter__(self) -> Cells: ...

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None: ...


def default_matrix() -> Path:
    """DEFAULT_MATRIX, or one line saying it exists only in a memhp checkout."""
    if not DEFAULT_MATRIX.is_file():
        raise BadInputError(f"matrix: no matrix file given, and the default nightly matrix is only in "
                            f"a memhp checkout (not at {DEFAULT_MATRIX}): give a matrix file, e.g. "
                            "memhp matrix CHECKOUT/fixtures/matrix/nightly.toml")
    return DEFAULT_MATRIX


def _one_cell(run: RunSpec, runs_dir: Path, settings: RunSettings, run_fn: RunFn) -> list[RunRecord]:
    return [run_with_retries(run, runs_dir / run.run_id, settings, run_fn)]


class LocalCells:
    """Cells on this machine; threads only wait, each boot's work is its own process. With
    the real runner, cells that share a boot (harness.lab.sharing) are one task."""

    def __init__(self, runs: Iterable[RunSpec], runs_dir: Path, settings: RunSettings,
                 workers: int, run_fn: RunFn) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=workers)
        cells = list(runs)
        groups = (boot_groups(cells, settings) if run_fn is run_in_subprocess
                  else [BootGroup((SharedRun(r),)) for r in cells])
        self.futures: list[Future[list[RunRecord]]] = [
            self.pool.submit(run_group, g, runs_dir, settings) if g.shares
            else self.pool.submit(_one_cell, g.boot, runs_dir, settings, run_fn)
            for g in groups]

    def finished(self) -> Iterator[RunRecord]:
        pending = set(self.futures)
        while pending:
            # Never a wait without a timeout: the kernel may hand Ctrl-C (a process-directed
            # SIGINT) to a cell's thread, which only flags it; the main thread raises
            # KeyboardInterrupt when it next runs bytecode, not while blocked on a lock.
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()

    def stop(self) -> list[RunRecord]:
        for future in self.futures:
            future.cancel()
        stop_cells(self.settings.matrix_run)
        self.pool.shutdown(wait=True)
        return [r for f in self.futures if not f.cancelled() for r in f.result()]

    def __enter__(self) -> LocalCells:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _progress(total: int, records: Iterator[RunRecord], show: bool) -> Iterator[RunRecord]:
    if not show:
        yield from records
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("matrix", total=total)
        for record in records:
            mark = "ok" if record.ok else "UNEXPECTED"
            bar.console.log(f"{record.run_id}: {record.verdict.value} ({mark})")
            bar.advance(task)
            yield record


def execute(spec: MatrixSpec, out_dir: Path, workers: int, run_fn: RunFn = run_in_subprocess,
            scheduler: str | None = None, progress: bool = False) -> MatrixResult:
    """Run every cell and return the records in matrix order (no reports written).

    Ctrl-C (or SIGTERM) stops the cells: the result is ``interrupted``, with the records
    of the cells that finished, were interrupted, or never started."""
    started = dt.datetime.now(dt.timezone.utc)
    begin = time.monotonic()
    runs_dir = ensure_out_dir(out_dir / "runs")
    settings = replace(spec.settings, matrix_run=uuid.uuid4().hex)
    cells: Cells
    if scheduler:
        from harness.lab.distributed import ClusterCells
        cells = ClusterCells(spec.runs, runs_dir, settings, scheduler, run_fn)
    else:
        cells = LocalCells(spec.runs, runs_dir, settings, workers, run_fn)
    done: dict[str, RunRecord] = {}
    interrupted = False
    with cells:
        try:
            for record in _progress(len(spec.runs), cells.finished(), progress):
                done[record.run_id] = record
        except KeyboardInterrupt:
            interrupted = True
            done.update((r.run_id, r) for r in cells.stop())
    return MatrixResult(spec.name, f"{spec.name}-{started:%Y%m%dT%H%M%S}", started.isoformat(),
                        time.monotonic() - begin,
                        tuple(done.get(r.run_id) or not_run_record(r) for r in spec.runs),
                        interrupted)


def write_reports(result: MatrixResult, out_dir: Path, db: Path | None) -> None:
    """A full disk while writing them is one line and 125 (ArtifactWriteError)."""
    with artifact_writes(out_dir):
        write_atomic(out_dir / "summary.json", (json.dumps(result.to_json(), indent=2) + "\n").encode())
        write_junit(result, out_dir / "runs", out_dir / "junit.xml")
        trends = differences = None
        if db is not None:
            with History(db) as history:
                history.record(result)
                trends, differences = history.trend_rows(), history.qemu_differences()
        write_html(result, out_dir / "runs", out_dir / "index.html", trends, differences)


def run_matrix(matrix: Path | None = None, out_dir: Path | None = None,
               workers: int | None = None, scheduler: str | None = None,
               db: Path | None = DEFAULT_HISTORY, progress: bool = True,
               run_fn: RunFn = run_in_subprocess, qemus: tuple[str, ...] = ()) -> MatrixResult:
    """Load, run, report and record a matrix (``db=None``: no history); ``memhp matrix``
    (``qemus``: its ``--qemu``, replacing the file's axis)."""
    spec = load_matrix(matrix or default_matrix(), qemus)
    out = ensure_out_dir(out_dir or Path("out") / "matrix" / spec.name)
    if db is not None:  # a database memhp cannot use is found before the first cell runs
        History(db).close()
    result = execute(spec, out, workers or os.cpu_count() or 1, run_fn, scheduler, progress)
    write_reports(result, out, db)
    return result


def summary_text(result: MatrixResult) -> str:
    lines = [f"{r.run_id:<60} {_shown(r):<11} {'ok' if r.ok else 'UNEXPECTED'}"
             + (f"  {r.shared}" if r.shared else "")
             + (f"  {r.reason}" if not r.ok and r.reason else "") for r in result.records]
    booted = sum(r.booted for r in result.records)
    bad = sum(not r.ok and r.status is CellStatus.FINISHED for r in result.records)
    lines.append(f"{len(result.records)} runs ({booted} booted) in {result.seconds:.0f} s, {bad} unexpected"
                 + (f"; INTERRUPTED: {len(result.with_status(CellStatus.INTERRUPTED))} stopped, "
                    f"{len(result.with_status(CellStatus.NOT_RUN))} not run"
                    if result.interrupted else ""))
    return "\n".join(lines)


def _shown(record: RunRecord) -> str:
    return record.verdict.value if record.status is CellStatus.FINISHED else record.status.value
