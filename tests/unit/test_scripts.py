"""The scripts run as the README shows them, ``scripts/NAME``: a Python one re-runs itself
with the checkout's .venv (scripts/_venv.py), whatever python3 PATH finds first."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
VENV = ROOT / ".venv"
PYTHON_SCRIPTS = sorted(p for p in SCRIPTS.iterdir()
                        if p.is_file() and p.read_text().startswith("#!/usr/bin/env python3"))


def _outside_venv() -> dict[str, str]:
    """The environment of a shell where .venv is not active (as in CI and after setup)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", os.defpath).split(os.pathsep)
                                  if Path(p).resolve() != (VENV / "bin").resolve())
    return env


def _first_statement(path: Path) -> ast.stmt:
    body = ast.parse(path.read_text()).body
    rest = [s for s in body[1:] if not (isinstance(s, ast.ImportFrom) and s.module == "__future__")]
    return rest[0]


def test_there_are_python_scripts() -> None:
    assert {p.name for p in PYTHON_SCRIPTS} >= {"bench-harness", "bench-matrix", "soak"}


@pytest.mark.parametrize("script", PYTHON_SCRIPTS, ids=lambda p: p.name)
def test_python_script_imports_the_venv_switch_first(script: Path) -> None:
    first = _first_statement(script)
    assert isinstance(first, ast.Import) and first.names[0].name == "_venv", (
        f"{script.name}: 'import _venv' must come before any other import")


@pytest.mark.parametrize("script", PYTHON_SCRIPTS, ids=lambda p: p.name)
def test_python_script_starts_as_the_readme_shows(script: Path) -> None:
    env = _outside_venv()
    python3 = shutil.which("python3", path=env["PATH"])
    assert python3 is not None and Path(python3).resolve().parent != (VENV / "bin").resolve()
    proc = subprocess.run([str(script.relative_to(ROOT)), "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"usage: {script.name} ")


def _probe(tmp_path: Path) -> Path:
    """A checkout-shaped folder: scripts/_venv.py and a script that prints its interpreter."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(SCRIPTS / "_venv.py", scripts)
    probe = scripts / "probe"
    probe.write_text("#!/usr/bin/env python3\nimport _venv\nimport sys\nprint(sys.prefix, *sys.argv[1:])\n")
    probe.chmod(0o755)
    return probe


def test_venv_switch_reexecutes_with_the_checkouts_venv(tmp_path: Path) -> None:
    probe = _probe(tmp_path)
    (tmp_path / ".venv").symlink_to(VENV)
    proc = subprocess.run([str(probe), "a b", "c"], env=_outside_venv(), capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    prefix, *args = proc.stdout.split(" ", 1)
    assert Path(prefix).resolve() == VENV.resolve()
    assert args == ["a b c\n"]


def test_venv_switch_without_setup_is_one_line(tmp_path: Path) -> None:
    probe = _probe(tmp_path)
    proc = subprocess.run([str(probe)], env=_outside_venv(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 125
    assert proc.stderr == f"probe: no {tmp_path / '.venv' / 'bin' / 'python'}: run scripts/setup first\n"
    assert proc.stdout == ""
