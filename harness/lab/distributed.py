"""The matrix on a Dask ``distributed`` cluster: each worker runs a cell in a scratch folder
and sends back the record and a tarball of the artifacts, unpacked here under ``runs/``."""
from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import InfrastructureError
from harness.lab.cell import GRACE_SECONDS, run_with_retries, stop_cells
from harness.lab.results import RunFn, RunRecord
from harness.lab.spec import RunSettings, RunSpec

# Rebuilt from the scenario on any host; not worth the network.
_NOT_SHIPPED = {"initrd.img"}
# How long an interrupted matrix waits for the workers' cells to come back: a stopped run
# gets GRACE_SECONDS to kill its QEMU, then the tarball travels.
STOP_SECONDS = GRACE_SECONDS + 10.0


def pack(folder: Path) -> bytes:
    """A gzipped tarball of a run's folder (and its earlier attempts), paths relative to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.parent.glob(folder.name + "*")):
            tar.add(path, arcname=path.name,
                    filter=lambda info: None if Path(info.name).name in _NOT_SHIPPED else info)
    return buf.getvalue()


def unpack(blob: bytes, runs_dir: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(runs_dir, filter="data")


def remote_cell(run: RunSpec, settings: RunSettings, run_fn: RunFn) -> tuple[RunRecord, bytes]:
    """Executed on a worker: one cell with its retries, artifacts returned as a tarball."""
    with tempfile.TemporaryDirectory(prefix="memhp-cell-") as scratch:
        folder = Path(scratch) / run.run_id
        record = run_with_retries(run, folder, settings, run_fn)
        return record, pack(folder)


class ClusterCells:
    """Cells on the Dask cluster at ``scheduler`` (``tcp://host:port``)."""

    def __init__(self, runs: Iterable[RunSpec], runs_dir: Path, settings: RunSettings,
                 scheduler: str, run_fn: RunFn) -> None:
        from distributed import Client

        try:
            self.client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]  # untyped lib
        except OSError as err:
            raise InfrastructureError(f"--scheduler {scheduler}: cannot connect: {err}") from err
        self.runs_dir, self.settings = runs_dir, settings
        # pure=False: an identical cell submitted twice is two runs, not one cached result.
        self.futures = [self.client.submit(remote_cell, run, settings, run_fn, pure=False)
                        for run in runs]

    def _unpacked(self, future: Any) -> RunRecord:
        record: RunRecord
        record, blob = future.result()
        unpack(blob, self.runs_dir)
        return record

    def finished(self) -> Iterator[RunRecord]:
        from distributed import as_completed

        for future in as_completed(self.futures):  # type: ignore[no-untyped-call]
            yield self._unpacked(future)

    def stop(self) -> list[RunRecord]:
        """Every worker stops this matrix's cells (harness.lab.cell.stop_cells): running ones
        send back their interrupted record and artifacts, queued ones end as not run."""
        from distributed import wait

        self.client.run(stop_cells, self.settings.matrix_run)
        done, _ = wait(self.futures, timeout=STOP_SECONDS)  # type: ignore[no-untyped-call]
        return [self._unpacked(f) for f in done if f.status == "finished"]

    def __enter__(self) -> ClusterCells:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
