"""The matrix on a Dask ``distributed`` cluster: each worker runs a cell in a scratch folder
and sends back the record and a tarball of the artifacts, unpacked here under ``runs/``.

Workers advertise how many guests they may boot at once as the Dask worker resource
``guests`` (``dask worker --resources guests=2``); each cell asks for one, so no worker runs
more QEMUs than its slots. A worker killed mid-cell: the scheduler gives the cell to another
worker; a cell whose workers all died (Dask's KilledWorker) or that no worker with slots is
left to run is "could not test", never lost and never waited for forever.
"""
from __future__ import annotations

import io
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import InfrastructureError
from harness.lab.cell import GRACE_SECONDS, error_record, run_group, run_in_subprocess, run_with_retries, stop_cells
from harness.lab.results import RunFn, RunRecord
from harness.lab.sharing import BootGroup, SharedRun, boot_groups
from harness.lab.spec import RunSettings, RunSpec

# Rebuilt from the scenario on any host; not worth the network.
_NOT_SHIPPED = {"initrd.img"}
# How long an interrupted matrix waits for the workers' cells to come back: a stopped run
# gets GRACE_SECONDS to kill its QEMU, then the tarball travels.
STOP_SECONDS = GRACE_SECONDS + 10.0
SLOTS = "guests"  # the Dask worker resource: QEMUs a worker may run at once
# How long cells wait while no worker with slots is connected before they could not test.
ORPHAN_SECONDS = 60.0
_POLL_SECONDS = 1.0


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


def remote_cell(group: BootGroup, settings: RunSettings, run_fn: RunFn) -> list[tuple[RunRecord, bytes]]:
    """Executed on a worker: the cells of one boot (harness.lab.sharing) with their
    retries, each cell's artifacts returned as a tarball."""
    from distributed import get_worker

    with tempfile.TemporaryDirectory(prefix="memhp-cell-") as scratch:
        runs_dir = Path(scratch)
        records = (run_group(group, runs_dir, settings) if group.shares
                   else [run_with_retries(group.boot, runs_dir / group.boot.run_id, settings, run_fn)])
        packed = []
        for record in records:
            folder = runs_dir / record.run_id
            folder.mkdir(parents=True, exist_ok=True)
            # Which host ran it: the first place to look when a cell fails on one worker only.
            (folder / "worker.txt").write_text(f"{socket.gethostname()} {get_worker().address}\n")
            packed.append((record, pack(folder)))
        return packed


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
        if not self.slots():
            self.client.close()  # type: ignore[no-untyped-call]
            raise InfrastructureError(f"--scheduler {scheduler}: no worker advertises {SLOTS} slots "
                                      f"(start workers with: dask worker {scheduler} --resources {SLOTS}=1)")
        # pure=False: an identical cell submitted twice is two runs, not one cached result.
        # Workers start resource-bound tasks in no set order: the priority keeps matrix order.
        cells = list(runs)
        groups = (boot_groups(cells, settings) if run_fn is run_in_subprocess
                  else [BootGroup((SharedRun(r),)) for r in cells])
        self.groups = {self.client.submit(remote_cell, group, settings, run_fn, pure=False,
                                          resources={SLOTS: 1}, priority=len(groups) - i): group
                       for i, group in enumerate(groups)}
        self.futures = list(self.groups)
        self.orphaned: str | None = None  # why the cells still pending were given up

    def slots(self) -> int:
        """Guest slots of the workers connected now."""
        workers = self.client.scheduler_info()["workers"].values()
        return int(sum(w.get("resources", {}).get(SLOTS, 0) for w in workers))

    def _unpacked(self, future: Any) -> list[RunRecord]:
        packed: list[tuple[RunRecord, bytes]]
        try:
            packed = future.result()
        except BaseException as err:  # KilledWorker, cancelled: the cells' own outcome
            if isinstance(err, KeyboardInterrupt):
                raise
            why = self.orphaned or f"the cell was lost on its workers ({type(err).__name__}: {err})"
            return [error_record(cell, f"could not test: {why}", 0.0) for cell in self.groups[future].cells]
        for _, blob in packed:
            unpack(blob, self.runs_dir)
        return [record for record, _ in packed]

    def finished(self) -> Iterator[RunRecord]:
        """Records as cells end; polled (a sleep Ctrl-C can interrupt, unlike a wait inside
        distributed) so that cells nobody can run are given up after ORPHAN_SECONDS."""
        from distributed import as_completed

        done: Any = as_completed(self.futures)  # type: ignore[no-untyped-call]  # untyped lib
        orphaned_since: float | None = None
        while not done.is_empty():
            if done.has_ready():
                yield from (r for f in done.next_batch(block=False) for r in self._unpacked(f))
                continue
            time.sleep(_POLL_SECONDS)
            orphaned_since = None if self.slots() else orphaned_since or time.monotonic()
            if orphaned_since and time.monotonic() - orphaned_since > ORPHAN_SECONDS:
                self.orphaned = f"no worker with {SLOTS} slots for {ORPHAN_SECONDS:.0f} s"
                for future in self.futures:
                    future.cancel()  # type: ignore[no-untyped-call]

    def stop(self) -> list[RunRecord]:
        """Every worker stops this matrix's cells (harness.lab.cell.stop_cells): running ones
        send back their interrupted record and artifacts, queued ones end as not run."""
        from distributed import wait

        self.client.run(stop_cells, self.settings.matrix_run)
        done, _ = wait(self.futures, timeout=STOP_SECONDS)  # type: ignore[no-untyped-call]
        return [r for f in done if f.status == "finished" for r in self._unpacked(f)]

    def __enter__(self) -> ClusterCells:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
