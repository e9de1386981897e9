"""The modules of a cached Debian kernel: ``${MEMHP_CACHE}/kernels/modules/<package>_<version>/``.

Kept beside, not inside, the kernel's entry: an entry fetched before modules were kept
stays valid, and a run that needs no module never downloads the package again. The
entry holds ``modules.order``, ``modules.builtin`` and the files of ``KEPT_MODULES``
and their dependencies, at their paths under ``lib/modules/<release>/``, as packaged.
"""
from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from harness.errors import InfrastructureError
from kernels import cache
from kernels.debian import DebianPackage, Downloader, apt_download, stream_deb
from kernels.modules import BUILTIN, KEPT_MODULES, ORDER, SUFFIXES, ModuleTree, load_module, module_name

log = logging.getLogger(__name__)


def module_entry(pkg: DebianPackage) -> Path:
    return cache.cache_root() / "modules" / f"{pkg.package}_{pkg.version}"


def fetch_module_tree(pkg: DebianPackage, downloader: Downloader = apt_download) -> ModuleTree:
    """The package's kept modules, downloading the package once if they are not cached."""
    entry = module_entry(pkg)
    with cache.entry_lock(entry):
        if not cache.is_complete(entry) or _kept_before(entry):
            _retire(entry)
            with cache.staging(entry) as tmp, tempfile.TemporaryDirectory(dir=tmp) as dl:
                deb = downloader(pkg.package, pkg.version, Path(dl))
                kept = extract_modules(deb, pkg.release, tmp, KEPT_MODULES)
                meta = {"package": pkg.package, "version": pkg.version, "release": pkg.release,
                        "deb_sha256": cache.sha256_file(deb), "modules": sorted(kept),
                        "wanted": sorted(KEPT_MODULES)}
                (tmp / cache.META).write_text(json.dumps(meta, indent=2) + "\n")
            log.info("cached modules of %s %s in %s", pkg.package, pkg.version, entry)
    return ModuleTree.read(entry)


def _kept_before(entry: Path) -> bool:
    """An entry made when memhp kept fewer modules (its meta's ``wanted`` lacks some, or
    predates the key): fetched again, so a newly needed module is never just missing."""
    meta = json.loads((entry / cache.META).read_text())
    return not set(KEPT_MODULES) <= set(meta.get("wanted", ()))


def _retire(entry: Path) -> None:
    """Move an old entry aside (one rename: a reader holding its files keeps them) and drop it."""
    if entry.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old.", dir=entry.parent))
        entry.rename(old / entry.name)
        shutil.rmtree(old, ignore_errors=True)


def _safe_relative(name: str, prefix: str) -> str | None:
    """``name`` below ``prefix`` as a relative path, None if outside it or climbing out."""
    if not name.startswith(prefix):
        return None
    rel = PurePosixPath(name[len(prefix):])
    return None if rel.is_absolute() or ".." in rel.parts or not rel.parts else str(rel)


def extract_modules(deb: Path, release: str, dest: Path, wanted: Iterable[str]) -> set[str]:
    """Write ``modules.order``, ``modules.builtin`` and the wanted modules with their
    dependencies from ``deb`` under ``dest``; the names written.

    Dependencies are known only once a module is read, so the archive is streamed again
    (about 2 s) while a pass finds new ones.
    """
    prefix = f"./lib/modules/{release}/"
    want, found = set(wanted), set[str]()
    while True:
        written = _one_pass(deb, prefix, dest, want - found)
        found |= set(written)
        if not (dest / BUILTIN).is_file():
            raise InfrastructureError(f"{deb}: no lib/modules/{release}/{BUILTIN}")
        builtin = ModuleTree.read(dest).builtin
        deps = {dep for path in written.values() for dep in load_module(path).depends}
        new = deps - builtin - found - want
        if not new:
            return found
        want |= new


def _one_pass(deb: Path, prefix: str, dest: Path, names: set[str]) -> dict[str, Path]:
    written: dict[str, Path] = {}

    def take(member: tarfile.TarInfo, read: Callable[[], bytes]) -> None:
        rel = _safe_relative(member.name, prefix)
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
