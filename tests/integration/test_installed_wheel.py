"""memhp as a new user gets it: the wheel, installed into a fresh venv, run from a folder
outside the checkout (nothing of the checkout on sys.path, no fixtures/ beside the package).

The wheel and the venv are made once per module. The venv gets its packages from the
wheel and its dependencies, resolved from the wheel's metadata, out of memhp's wheelhouse
(``$MEMHP_CACHE/wheelhouse``): filled from the index the first time, then offline.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from harness.paths import cache_dir
from harness.run.runner import RunOptions

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
# The packages the wheel ships, as pyproject.toml names them; the build reads those and it.
PACKAGES = tuple(p.rstrip("*") for p in tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"]["find"]["include"])
SOURCES = ("pyproject.toml", *PACKAGES)
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


@dataclass(frozen=True)
class Installed:
    venv: Path
    elsewhere: Path  # the working folder of every command: outside the checkout

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        path = [p for p in env.get("PATH", os.defpath).split(os.pathsep)
                if Path(p).resolve() != (ROOT / ".venv" / "bin").resolve()]
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), *path])
        return subprocess.run(list(args), cwd=self.elsewhere, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def memhp(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "memhp"), *args, timeout=timeout)


def _check(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"


def _install(python: Path, wheel: Path) -> None:
    """Install ``wheel`` and its dependencies into the venv of ``python``, offline from the
    wheelhouse; fill the wheelhouse from the index when it lacks something."""
    wheelhouse = cache_dir("wheelhouse")
    offline = [*PIP, "--python", str(python), "install", "-q", "--no-compile", "--no-index",
               "--find-links", str(wheelhouse), str(wheel)]
    with FileLock(str(wheelhouse / ".lock")):
        if subprocess.run(offline, capture_output=True, timeout=600, check=False).returncode == 0:
            return
        _check([*PIP, "wheel", "-q", "--wheel-dir", str(wheelhouse), str(wheel)])
        # Only the dependencies stay: this test installs the memhp it has just built.
        (wheelhouse / wheel.name).unlink(missing_ok=True)
        _check(offline)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build would leave build/ in the checkout, and a stale
    # build/lib can put deleted modules into a later wheel.
    src = tmp / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    _check([*PIP, "wheel", "-q", "--no-deps", "--no-build-isolation", "--wheel-dir",
            str(tmp / "dist"), str(src)])
    (wheel,) = (tmp / "dist").glob("memhp-*.whl")
    venv = tmp / "venv"
    # The venv's own pip is not needed: the running pip installs into it (--python).
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _install(venv / "bin" / "python", wheel)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv, elsewhere)


def test_packages_come_from_the_wheel(installed: Installed) -> None:
    proc = installed.run("python", "-c", "import importlib\n"
                         f"for name in {list(PACKAGES)!r}: print(importlib.import_module(name).__file__)")
    assert proc.returncode == 0, proc.stderr
    files = proc.stdout.splitlines()
    assert len(files) == len(PACKAGES) >= 4 and all(Path(f).is_relative_to(installed.venv) for f in files), files


def test_parse_a_recorded_log(installed: Installed) -> None:
    log = FIXTURES / "logs" / "qemu-6.1-three-node.log"
    proc = installed.memhp("parse", str(log))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{log}: kernel 6.1.0-47-amd64\n")
    assert "SRAT node 2 (PXM 2): 0x140000000-0x33fffffff hotplug" in proc.stdout


def test_replay_predicts_every_allocation(installed: Installed) -> None:
    proc = installed.memhp("replay", str(FIXTURES / "logs" / "qemu-6.1-three-node.log"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "67/67 allocations predicted (kernel 6.1, python engine" in proc.stdout


@pytest.mark.parametrize("kernel", ["debian:6.1", "debian:6.12"])
def test_simulate_uses_the_shipped_templates(installed: Installed, kernel: str) -> None:
    series = kernel.removeprefix("debian:")
    proc = installed.memhp("simulate", str(FIXTURES / "scenarios" / "three-node-movable.toml"),
                           "--kernel", kernel)
    assert proc.returncode == 0, proc.stderr
    assert f"sizes from fixtures/logs/qemu-{series}-three-node-movable-node.log\n" in proc.stdout
    assert "  node 2: hotplug honoured, ZONE_MOVABLE 0x100000000\n" in proc.stdout


def test_matrix_without_a_file_says_where_the_nightly_matrix_is(installed: Installed) -> None:
    proc = installed.memhp("matrix")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("memhp: matrix: no matrix file given")
    assert "fixtures/matrix/nightly.toml" in proc.stderr
    assert not (installed.elsewhere / "out").exists()


def test_run_boots_the_default_scenario(installed: Installed, memhp_options: RunOptions) -> None:
    out = installed.elsewhere / "run"
    proc = installed.memhp("run", str(FIXTURES / "scenarios" / "three-node-movable.toml"),
                           "--kernel", "debian:6.1", "--accel", memhp_options.accel,
                           "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first = proc.stdout.splitlines()[0]
    assert re.fullmatch(r"three-node-movable on debian:6\.1 \(6\.1\.0-\d+-amd64\): PASS", first), first
    result = json.loads((out / "result.json").read_text())
    assert result["verdict"] == "pass" and all(c["ok"] for c in result["checks"])
