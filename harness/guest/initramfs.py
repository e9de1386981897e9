"""The guest's initramfs: busybox-static plus memhp's init and agent, built once and cached.

Kernel modules a scenario needs go in ``lib/modules/<name>.ko`` (uncompressed: busybox
insmod hands the file to init_module(2) as is), listed dependencies first in
``lib/modules/load.list``, which init loads before the agent starts.
The cache key is the content of everything that goes in, so a new busybox, agent or
module makes a new image; concurrent runs build under a file lock. Per run, the SRAT override archive
(uncompressed, as lib/earlycpio.c requires) is put in front of this gzip image.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from filelock import FileLock

from harness.errors import InfrastructureError
from harness.paths import cache_dir
from kernels.modules import Module

BUSYBOX = Path("/bin/busybox")
_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp")


def _guest_file(name: str) -> bytes:
    return resources.files("harness").joinpath("guest", name).read_bytes()


def _busybox() -> Path:
    if not BUSYBOX.exists():
        raise InfrastructureError(f"{BUSYBOX} not found: run scripts/setup "
                                  "(apt-get install busybox-static)")
    return BUSYBOX


def _key(busybox: bytes, init: bytes, agent: bytes, modules: Sequence[Module] = ()) -> str:
    digest = hashlib.sha256()
    for part in (busybox, init, agent):
        digest.update(hashlib.sha256(part).digest())
    for module in modules:  # order matters too: it is the load order
        digest.update(module.name.encode() + b"\0" + hashlib.sha256(module.image).digest())
    return digest.hexdigest()[:20]


def _add_modules(root: Path, modules: Sequence[Module]) -> None:
    if not modules:
        return
    folder = root / "lib" / "modules"
    folder.mkdir(parents=True)
    for module in modules:
        (folder / f"{module.name}.ko").write_bytes(module.image)
    (folder / "load.list").write_text("".join(f"{m.name}\n" for m in modules))


def _build(target: Path, busybox: Path, init: bytes, agent: bytes, modules: Sequence[Module]) -> None:
    with tempfile.TemporaryDirectory(prefix="memhp-initramfs-") as tmp:
        root = Path(tmp)
        for sub in _DIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(busybox, root / "bin" / "busybox")
        (root / "init").write_bytes(init)
        (root / "agent.sh").write_bytes(agent)
        os.chmod(root / "init", 0o755)
        _add_modules(root, modules)
        names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        proc = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                              input="\n".join(names).encode(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise InfrastructureError(f"cpio failed: {proc.stderr.decode(errors='replace')}")
        partial = target.with_suffix(".partial")
        partial.write_bytes(gzip.compress(proc.stdout, mtime=0))
        partial.replace(target)


def base_initramfs(modules: Sequence[Module] = ()) -> Path:
    """The cached busybox + agent (+ ``modules``, in load order) image (gzip newc)."""
    busybox = _busybox()
    init, agent = _guest_file("init"), _guest_file("agent.sh")
    key = _key(busybox.read_bytes(), init, agent, modules)
    folder = cache_dir("initramfs")
    target = folder / f"memhp-{key}.cpio.gz"
    with FileLock(str(folder / f"{key}.lock")):
        if not target.exists():
            _build(target, busybox, init, agent, modules)
    return target


def compose_initrd(out: Path, early_archive: bytes | None, modules: Sequence[Module] = ()) -> Path:
    """The run's initrd: the uncompressed ACPI override archive first, then the base image
    (with ``modules``, from ``kernels.needed_modules``)."""
    with open(out, "wb") as fh:
        if early_archive:
            fh.write(early_archive)
        fh.write(base_initramfs(modules).read_bytes())
    return out
