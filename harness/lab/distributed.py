"""The matrix on a Dask ``distributed`` cluster: each worker runs a cell in a scratch folder
and sends back the record and a tarball of the artifacts, unpacked here under ``runs/``."""
from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from harness.errors import InfrastructureError
from harness.lab.cell import run_with_retries
from harness.lab.results import RunFn, RunRecord
from harness.lab.spec import RunSettings, RunSpec

# Rebuilt from the scenario on any host; not worth the network.
_NOT_SHIPPED = {"initrd.img"}


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


def run_on_cluster(runs: Iterable[RunSpec], runs_dir: Path, settings: RunSettings,
                   scheduler: str, run_fn: RunFn) -> Iterator[RunRecord]:
    """Records as cells finish on the cluster at ``scheduler`` (``tcp://host:port``)."""
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]  # untyped lib
    except OSError as err:
        raise InfrastructureError(f"--scheduler {scheduler}: cannot connect: {err}") from err
    with client:
        # pure=False: an identical cell submitted twice is two runs, not one cached result.
        futures = [client.submit(remote_cell, run, settings, run_fn, pure=False)
                   for run in runs]
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            record, blob = future.result()
            unpack(blob, runs_dir)
            yield record
