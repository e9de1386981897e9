"""The modules of a cached Debian kernel: ``${MEMHP_CACHE}/kernels/modules/<package>_<version>/``.

Kept beside, not inside, the kernel's entry: an entry fetched before modules were kept
stays valid, and a run that needs no module never downloads the package again. The
entry holds ``modules.order``, ``modules.builtin`` and the files of the wanted modules
and their dependencies, at their paths under ``[usr/]lib/modules/<release>/``, as
packaged. ``<package>`` is the package with the ``.ko`` files (``linux-image-…`` or, from
7.x, ``linux-modules-…``, whose module lists are in ``linux-base-…``: both are read).
An entry made for fewer modules than now wanted is made again.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

from debarchive import stream_deb
from harness.errors import InfrastructureError
from kernels import cache
from kernels.modules import BUILTIN, ORDER, SUFFIXES, ModuleTree, load_module, module_name

log = logging.getLogger(__name__)

# Where a package puts a release's modules: Debian 12's packages under lib/, merged-/usr
# ones (trixie and later) under usr/lib/.
MODULE_DIRS = ("./lib/modules/{}/", "./usr/lib/modules/{}/")


def module_entry(package: str, version: str) -> Path:
    return cache.cache_root() / "modules" / f"{package}_{version}"


def entry_covers(entry: Path, wanted: Iterable[str]) -> bool:
    """A complete entry made for at least ``wanted`` (entries before ``wanted`` was recorded
    were made for virtio_mem and virtio_pci)."""
    if not cache.is_complete(entry):
        return False
    meta = json.loads((entry / cache.META).read_text())
    made_for = set(meta.get("wanted", ("virtio_mem", "virtio_pci")))
    return set(wanted) <= made_for


def store_modules(entry: Path, release: str, debs: Sequence[Path], wanted: Iterable[str],
                  meta: dict[str, object]) -> ModuleTree:
    """Make ``entry`` from ``debs`` unless it already covers ``wanted``; its module tree.

    The caller holds ``cache.entry_lock(entry)``.
    """
    wanted = sorted(set(wanted))
    if entry_covers(entry, wanted):
        return ModuleTree.read(entry)
    old = entry.with_name(f".{entry.name}.old")
    with cache.staging(entry) as tmp:
        kept = extract_modules(debs, release, tmp, wanted)
        full = {**meta, "release": release, "wanted": wanted, "modules": sorted(kept)}
        (tmp / cache.META).write_text(json.dumps(full, indent=2) + "\n")
        if entry.exists():  # made for fewer modules: replaced whole
            shutil.rmtree(old, ignore_errors=True)
            os.rename(entry, old)
    shutil.rmtree(old, ignore_errors=True)
    log.info("cached modules of %s in %s", release, entry)
    return ModuleTree.read(entry)


def _safe_relative(name: str, prefixes: Sequence[str]) -> str | None:
    """``name`` below one of ``prefixes`` as a relative path, None if outside or climbing out."""
    prefix = next((p for p in prefixes if name.startswith(p)), None)
    if prefix is None:
        return None
    rel = PurePosixPath(name[len(prefix):])
    return None if rel.is_absolute() or ".." in rel.parts or not rel.parts else str(rel)


def extract_modules(debs: Sequence[Path], release: str, dest: Path, wanted: Iterable[str]) -> set[str]:
    """Write ``modules.order``, ``modules.builtin`` and the wanted modules with their
    dependencies from ``debs`` under ``dest``; the names written.

    Dependencies are known only once a module is read, so the archives are streamed again
    (seconds each) while a pass finds new ones.
    """
    prefixes = [d.format(release) for d in MODULE_DIRS]
    want, found = set(wanted), set[str]()
    while True:
        written: dict[str, Path] = {}
        for deb in debs:
            written |= _one_pass(deb, prefixes, dest, want - found)
        found |= set(written)
        if not (dest / BUILTIN).is_file():
            raise InfrastructureError(f"{', '.join(map(str, debs))}: no lib/modules/{release}/{BUILTIN}")
        builtin = ModuleTree.read(dest).builtin
        deps = {dep for path in written.values() for dep in load_module(path).depends}
        new = deps - builtin - found - want
        if not new:
            return found
        want |= new


def _one_pass(deb: Path, prefixes: Sequence[str], dest: Path, names: set[str]) -> dict[str, Path]:
    written: dict[str, Path] = {}

    def take(member: tarfile.TarInfo, read: Callable[[], bytes]) -> None:
        rel = _safe_relative(member.name, prefixes)
        if rel is None or not member.isfile():
            return
        is_index = rel in (ORDER, BUILTIN)
        is_wanted = rel.endswith(SUFFIXES) and module_name(rel) in names
        if is_index or is_wanted:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read())
        if is_wanted:
            written[module_name(rel)] = dest / rel

    stream_deb(deb, take)
    return written
