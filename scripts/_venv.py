"""Imported first by the Python scripts beside it: run the script with the checkout's .venv.

Their ``#!/usr/bin/env python3`` finds the first python3 on PATH, usually the system's,
which lacks memhp's dependencies; scripts/setup installs those (and memhp, editable) into
.venv. So unless this already is that interpreter, the script is re-executed with it.
"""
import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venv"

if Path(sys.prefix).resolve() != VENV.resolve():
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"{Path(sys.argv[0]).name}: no {python}: run scripts/setup first", file=sys.stderr)
        sys.exit(125)
    os.execv(python, [str(python), *sys.argv])
# The checkout's tools package (fixture writers, not installed with memhp).
sys.path.insert(1, str(VENV.parent))
