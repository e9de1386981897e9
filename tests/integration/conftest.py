"""The integration tier's shared runs: a real run is a value, booted once per session.

``shared_run(path, **changes) -> RunResult`` is ``memhp_run`` for tests that assert on a
run's observation rather than on the boot path: the run of ``path`` on this session's
kernel and accelerator (``--memhp-kernel``/``--memhp-accel``), entered through PVH (half a
bzImage boot; ``boot="bzimage"`` to change it), is made once for the whole session, also
across pytest-xdist workers: the first test to need it boots under a file lock, every other
test (on any worker) reads the same run from disk. A scenario that differs from a booted
one only in what it expects (``runner.boot_identity``: a must-fail sibling stating other
``[expect]``, ``false_claims`` or action ``expect``) is judged on that boot
(``runner.judge_on``), without booting; its result says so (``info.judged_on``). Both
the result's ``info.out_dir`` (result.json, model.json) and, for the boot, its console.log
and command.txt are there to read, as with ``memhp_run``.

Tests of the boot path itself (faults, signals, the CLI, the matrix, a kernel's own boot)
keep ``memhp_run`` or their own boots. The runs live in the session's base temp folder,
which pytest keeps private to the user.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from harness.run.runner import Observed, RunOptions, boot_identity, judge_on, run_observed
from harness.run.verdict import RunResult
from harness.scenario.schema import load_scenario

SHARED_BOOT = "pvh"  # the shared runs are not about how QEMU enters the kernel


class SharedRuns:
    """Runs by what makes them (scenario without its claims, kernel, accel, boot, files)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(exist_ok=True)
        self.booted: dict[str, Observed] = {}  # this process's copies of the boots
        self.judged: dict[tuple[str, Path], RunResult] = {}

    def key(self, path: Path, options: RunOptions) -> str:
        # Every run option but the folder, so that an option added later keeps runs apart.
        what = {"boot": boot_identity(load_scenario(path)),
                "options": {f.name: getattr(options, f.name) for f in dataclasses.fields(options)
                            if f.name != "out_dir"}}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def boot(self, key: str, path: Path, options: RunOptions) -> Observed:
        """The session's one run of this boot: made here, or read from the worker that made it."""
        if key in self.booted:
            return self.booted[key]
        saved = self.root / f"{key}.pickle"
        with FileLock(str(self.root / f"{key}.lock")):
            if saved.exists():
                observed: Observed = pickle.loads(saved.read_bytes())
            else:
                observed = run_observed(path, dataclasses.replace(options, out_dir=self.root / key))
                saved.write_bytes(pickle.dumps(observed))
        self.booted[key] = observed
        return observed

    def run(self, path: Path, options: RunOptions) -> RunResult:
        path = Path(path).resolve()
        key = self.key(path, options)
        observed = self.boot(key, path, options)
        if load_scenario(path) == observed.prepared.scenario:
            return observed.result
        if (key, path) not in self.judged:
            out = self.root / f"{key}-judged" / path.stem
            self.judged[(key, path)] = judge_on(path, observed, out)
        return self.judged[(key, path)]


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own basetemp inside the session's: share that one.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return SharedRuns(root / "memhp-shared")


@pytest.fixture
def shared_run(memhp_options: RunOptions, shared_runs: SharedRuns) -> Callable[..., RunResult]:
    def run(path: Path, **changes: Any) -> RunResult:
        options = dataclasses.replace(memhp_options, **{"boot": SHARED_BOOT, **changes})
        return shared_runs.run(Path(path), options)

    return run
