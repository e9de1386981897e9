"""memhp's guest helpers (``helpers/NAME.c``): static binaries, built on first use and cached.

musl's static binaries are ~50 KiB where glibc's are ~700 KiB; the guest pays for every
byte twice under TCG (the kernel unpacks the initramfs, exec faults the pages in), so
musl-gcc is used where scripts/setup installed it, else gcc with libc6-dev's libc.a.
The cache key is the source text and the compiler, so a change to either builds anew.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from filelock import FileLock

from harness.errors import InfrastructureError
from harness.paths import cache_dir

COMPILERS = ("musl-gcc", "gcc")


def _compiler() -> str:
    for name in COMPILERS:
        if shutil.which(name):
            return name
    raise InfrastructureError("no C compiler for memhp's guest helpers: run scripts/setup "
                              "(apt-get install musl-tools, or gcc and libc6-dev)")


def static_helper(name: str, compiler: str | None = None) -> bytes:
    """The static, stripped ``helpers/<name>.c``, built once per source text and compiler."""
    source = resources.files("harness").joinpath("guest", "helpers", f"{name}.c").read_bytes()
    cc = compiler or _compiler()
    key = hashlib.sha256(source + b"\0" + cc.encode()).hexdigest()[:16]
    folder = cache_dir("helpers")
    target = folder / f"{name}-{key}"
    with FileLock(str(folder / f"{name}-{key}.lock")):
        if not target.exists():
            partial = target.with_suffix(".partial")
            with tempfile.TemporaryDirectory(prefix="memhp-helper-") as tmp:
                src = Path(tmp) / f"{name}.c"
                src.write_bytes(source)
                proc = subprocess.run([cc, "-static", "-O2", "-s", "-o", str(partial), str(src)],
                                      capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise InfrastructureError(f"building the {name} helper with {cc} failed "
                                          f"(scripts/setup installs the compilers): "
                                          f"{proc.stderr.strip()[:300]}")
            partial.replace(target)  # whole or not at all: a reader never sees half a binary
    return target.read_bytes()
