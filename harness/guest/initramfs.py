"""The guest's initramfs: busybox-static plus memhp's init, agent and state helper, built once
and cached.

Kernel modules a scenario needs go in ``lib/modules/<name>.ko`` (uncompressed: busybox
insmod hands the file to init_module(2) as is), listed dependencies first in
``lib/modules/load.list``, which init loads before the agent starts. A scenario's
``[[files]]`` (or a test's) go in too, with their modes. The cache key is the content of
everything that goes in (paths and modes included), so a new busybox, agent, module or
user file makes a new image; concurrent runs build under a file lock. Per run, the SRAT override archive
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
from harness.guest.initramfs_files import FileEntry, collect
from harness.guest.static_helper import static_helper
from harness.paths import cache_dir
from harness.scenario.guest_files import GuestFile
from kernels.modules import Module

BUSYBOX = Path("/bin/busybox")
STATE_HELPER = "/bin/memhp-state"  # agent.sh's $STATE
_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp")


def _guest_file(name: str) -> bytes:
    return resources.files("harness").joinpath("guest", name).read_bytes()


def _busybox() -> Path:
    if not BUSYBOX.exists():
        raise InfrastructureError(f"{BUSYBOX} not found: run scripts/setup "
                                  "(apt-get install busybox-static)")
    return BUSYBOX


def _key(busybox: bytes, init: bytes, agent: bytes, extra: Sequence[FileEntry]) -> str:
    digest = hashlib.sha256()
    for part in (busybox, init, agent):
        digest.update(hashlib.sha256(part).digest())
    for entry in extra:
        digest.update(entry.digest())
    return digest.hexdigest()[:20]


def module_entries(modules: Sequence[Module]) -> tuple[FileEntry, ...]:
    """``modules`` (dependencies first) as files, and ``load.list`` in that order."""
    if not modules:
        return ()
    files = [FileEntry(f"/lib/modules/{m.name}.ko", 0o644, m.image) for m in modules]
    order = "".join(f"{m.name}\n" for m in modules).encode()
    return (*files, FileEntry("/lib/modules/load.list", 0o644, order))


def _build(target: Path, busybox: Path, init: bytes, agent: bytes,
           extra: Sequence[FileEntry]) -> None:
    with tempfile.TemporaryDirectory(prefix="memhp-initramfs-") as tmp:
        root = Path(tmp)
        for sub in _DIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(busybox, root / "bin" / "busybox")
        (root / "init").write_bytes(init)
        (root / "agent.sh").write_bytes(agent)
        os.chmod(root / "init", 0o755)
        for entry in extra:
            entry.write_under(root)
        names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        proc = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                              input="\n".join(names).encode(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise InfrastructureError(f"cpio failed: {proc.stderr.decode(errors='replace')}")
        partial = target.with_suffix(".partial")
        partial.write_bytes(gzip.compress(proc.stdout, mtime=0))
        partial.replace(target)


def base_initramfs(files: Sequence[GuestFile] = (), more: Sequence[FileEntry] = ()) -> Path:
    """The cached busybox + agent image (gzip newc), with ``files`` and ``more`` (memhp's
    own: modules from :func:`module_entries`, a selftest, helpers) added."""
    busybox = _busybox()
    init, agent = _guest_file("init"), _guest_file("agent.sh")
    extra = collect(files, (*more, FileEntry(STATE_HELPER, 0o755, static_helper("state"))))
    key = _key(busybox.read_bytes(), init, agent, extra)
    folder = cache_dir("initramfs")
    target = folder / f"memhp-{key}.cpio.gz"
    with FileLock(str(folder / f"{key}.lock")):
        if not target.exists():
            _build(target, busybox, init, agent, extra)
    return target


def compose_initrd(out: Path, early_archive: bytes | None,
                   files: Sequence[GuestFile] = (), more: Sequence[FileEntry] = ()) -> Path:
    """The run's initrd: the uncompressed ACPI override archive first, then the base image."""
    with open(out, "wb") as fh:
        if early_archive:
            fh.write(early_archive)
        fh.write(base_initramfs(files, more).read_bytes())
    return out
