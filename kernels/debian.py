"""Debian kernels: a name resolved against the archive's catalog, fetched, verified, cached.

``kernels.debian_catalog`` says which build a name means; its packages come through
``debarchive`` (signature, then SHA256 of the index, then of each .deb), into a scratch
directory beside the cache entry. Only vmlinuz, System.map and config are taken from the
packages, streamed out under names memhp chooses, so nothing a package says can write
outside the entry; the vmlinux is extracted once at fetch time, and the kept modules are
stored from the same download (``kernels.debian_modules``). Each entry is
``<cache>/kernels/<package>_<version>/``, one per release and package version.

When the archive cannot be reached, the newest cached kernel the name could mean is
used, and a line says so. A file that fails verification is never cached and never
falls back: that is exit 125 naming the file.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from debian.debian_support import Version

from debarchive import Archive, ArchiveUnreachable, NotInArchive, Package, stream_deb
from harness.errors import BadInputError, InfrastructureError
from debarchive.verify import sha256_of
from kernels import cache
from kernels.bzimage import write_vmlinux
from kernels.debian_catalog import LONGTERM, PACKAGE_REGEX, Build, Catalog, Layout
from kernels.debian_modules import entry_covers, module_entry, store_modules
from kernels.kernel import Kernel, make_kernel
from kernels.modules import KEPT_MODULES, ModuleTree
from kernels.spec import DebianSpec, Pick

log = logging.getLogger(__name__)

# Where each layout puts the boot files (kernels.debian_catalog.Layout), by the name the
# cache entry gives them.
_BOOT_MEMBERS = {
    "vmlinuz": ("./boot/vmlinuz-{}", "./usr/lib/modules/{}/vmlinuz", "./usr/lib/modules/{}/vmlinuz.unsigned"),
    "System.map": ("./boot/System.map-{}", "./usr/lib/modules/{}/System.map"),
    "config": ("./boot/config-{}", "./usr/lib/modules/{}/config"),
}
_UPSTREAM = re.compile(r"^(?:\d+:)?(\d+)\.(\d+)\.(\d+)")


@functools.cache
def default_archive() -> Archive:
    """The host's view of Debian's archive, one per process."""
    return Archive()


def catalog(archive: Archive | None = None) -> Catalog:
    """Every whole kernel build the archive's (verified) indexes describe."""
    return Catalog.from_packages((archive or default_archive()).packages(PACKAGE_REGEX))


@dataclass(frozen=True)
class CachedKernel:
    """A complete kernel entry of the cache."""

    entry: Path
    release: str
    version: str

    @property
    def upstream(self) -> tuple[int, int, int]:
        match = _UPSTREAM.match(self.version)
        return (int(match[1]), int(match[2]), int(match[3])) if match else (0, 0, 0)

    @property
    def series(self) -> str:
        return f"{self.upstream[0]}.{self.upstream[1]}"


def cached_kernels() -> list[CachedKernel]:
    """Complete Debian kernel entries, newest first."""
    root = cache.cache_root()
    found = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.is_dir() and cache.is_complete(entry):
            meta = json.loads((entry / cache.META).read_text())
            if "package" in meta and "release" in meta:
                found.append(CachedKernel(entry, str(meta["release"]), str(meta["version"])))
    return sorted(found, key=lambda k: (k.upstream, Version(k.version)), reverse=True)


def cached_for(spec: DebianSpec) -> CachedKernel | None:
    """The newest cached kernel ``spec`` could mean (lts: the newest longterm one)."""
    def fits(kernel: CachedKernel) -> bool:
        if spec.pick is Pick.SERIES:
            return kernel.series == spec.value
        if spec.pick is Pick.PATCH:
            return ".".join(map(str, kernel.upstream)) == spec.value
        if spec.pick is Pick.RELEASE:
            return kernel.release == spec.value
        return spec.pick is Pick.LATEST or kernel.series in LONGTERM
    return next((k for k in cached_kernels() if fits(k)), None)


def extract_boot_files(debs: Sequence[Path], release: str, dest: Path) -> None:
    """Copy the release's vmlinuz, System.map and config out of ``debs`` into ``dest``."""
    wanted = {member.format(release): name for name, members in _BOOT_MEMBERS.items() for member in members}

    def take(member: tarfile.TarInfo, read: Callable[[], bytes]) -> None:
        name = wanted.get(member.name)
        if name is not None and member.isfile():
            (dest / name).write_bytes(read())

    for deb in debs:
        stream_deb(deb, take)
    if not (dest / "vmlinuz").is_file():
        raise InfrastructureError(f"{', '.join(map(str, debs))}: no vmlinuz for {release} "
                                  f"(looked for {', '.join(m.format(release) for m in _BOOT_MEMBERS['vmlinuz'])})")


def kernel_entry(build: Build) -> Path:
    return cache.cache_root() / f"{build.main.name}_{build.main.version}"


def fetch_build(build: Build, archive: Archive) -> Path:
    """The cache entry of ``build``, downloading (once, verified) unless already cached;
    its kept modules are stored from the same download."""
    entry = kernel_entry(build)
    with cache.entry_lock(entry):
        if cache.is_complete(entry):
            return entry
        with cache.staging(entry) as tmp, tempfile.TemporaryDirectory(dir=tmp, prefix=".debs-") as dl:
            debs = {pkg: archive.download(pkg, Path(dl)) for pkg in build.packages}
            extract_boot_files([debs[p] for p in build.boot_packages], build.release, tmp)
            write_vmlinux(tmp / "vmlinuz", tmp / "vmlinux")
            meta = {"package": build.main.name, "version": build.version, "release": build.release,
                    "suite": build.suite, "layout": build.layout.name,
                    "packages": [asdict(p) for p in build.packages],
                    "vmlinuz_sha256": sha256_of(tmp / "vmlinuz")}
            _store_modules(build, [debs[p] for p in build.module_list_packages])
            (tmp / cache.META).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("cached %s %s (%s) in %s", build.release, build.version, build.suite, entry)
    return entry


def _store_modules(build: Build, debs: Sequence[Path]) -> ModuleTree:
    entry = module_entry(build.modules_package.name, build.version)
    with cache.entry_lock(entry):
        return store_modules(entry, build.release, debs, KEPT_MODULES,
                             {"package": build.modules_package.name, "version": build.version})


def kernel_from_entry(entry: Path, spec: str) -> Kernel:
    """The ``Kernel`` of a complete cache entry."""
    meta = json.loads((entry / cache.META).read_text())
    optional = {name: entry / name for name in ("System.map", "config", "vmlinux")}
    present = {name: (path if path.is_file() else None) for name, path in optional.items()}
    return make_kernel(spec, entry / "vmlinuz", system_map=present["System.map"],
                       config=present["config"], vmlinux=present["vmlinux"],
                       package_version=str(meta["version"]), source="debian")


def resolve_debian(spec: DebianSpec, archive: Archive | None = None) -> Kernel:
    """Fetch (or reuse) the kernel ``spec`` names; the archive unreachable, the newest
    cached kernel it could mean, with a line saying so.

    A pinned release in the cache is used as it is (it cannot change), and a series or
    release the archive has dropped is still served from the cache, with a line.
    """
    cached_pin = cached_for(spec) if spec.pick is Pick.RELEASE else None
    if cached_pin is not None:
        return kernel_from_entry(cached_pin.entry, spec.text)
    archive = archive or default_archive()
    try:
        try:
            entry = _entry_for(spec, archive)
        except NotInArchive as err:  # superseded since the cached index: ask again
            log.info("%s: %s; reading the archive's indexes again", spec.text, err)
            archive.refresh()
            entry = _entry_for(spec, archive)
    except ArchiveUnreachable as err:
        cached = cached_for(spec)
        if cached is None:
            raise ArchiveUnreachable(f"kernel {spec.text}: Debian's archive unreachable and no cached "
                                     f"kernel fits: {err}") from err
        log.warning("%s: Debian's archive unreachable, using the cached %s (%s): %s",
                    spec.text, cached.release, cached.version, err)
        entry = cached.entry
    return kernel_from_entry(entry, spec.text)


def _entry_for(spec: DebianSpec, archive: Archive) -> Path:
    """The cache entry of the build ``spec`` names, fetched if need be; a series or release
    the archive no longer has comes from the cache if it is there, with a line."""
    try:
        build = catalog(archive).pick(spec)
    except BadInputError:
        cached = cached_for(spec) if spec.pick not in (Pick.LTS, Pick.LATEST) else None
        if cached is None:
            raise
        log.warning("%s: no longer in Debian's archive, using the cached %s (%s)", spec.text,
                    cached.release, cached.version)
        return cached.entry
    return fetch_build(build, archive)


def _build_of(kernel: Kernel, meta: dict[str, object], archive: Archive) -> Build:
    """The build a cached kernel came from: recorded in its entry, or (entries made before
    that was recorded) looked up in the catalog."""
    packages = meta.get("packages")
    if isinstance(packages, list):
        pkgs = tuple(Package(**p) for p in packages)
        upstream = _UPSTREAM.match(kernel.package_version or "")
        nums = (int(upstream[1]), int(upstream[2]), int(upstream[3])) if upstream else (0, 0, 0)
        return Build(kernel.release, nums, Layout[str(meta["layout"])], pkgs)
    found = [b for b in catalog(archive).builds
             if b.release == kernel.release and b.version == kernel.package_version]
    if not found:
        raise InfrastructureError(f"kernel {kernel.spec}: {kernel.release} {kernel.package_version} "
                                  "is no longer in Debian's archive: its modules cannot be fetched")
    return found[-1]


def fetch_modules(kernel: Kernel, archive: Archive | None = None) -> ModuleTree:
    """The kept modules of a cached Debian kernel, downloading its packages once if the
    cache does not hold them (or holds fewer than ``KEPT_MODULES``)."""
    meta = json.loads((kernel.bzimage.parent / cache.META).read_text())
    modules_package = meta["packages"][-1]["name"] if "packages" in meta else meta["package"]
    entry = module_entry(modules_package, str(meta["version"]))
    with cache.entry_lock(entry):
        if entry_covers(entry, KEPT_MODULES):
            return ModuleTree.read(entry)
        archive = archive or default_archive()
        try:
            build = _build_of(kernel, meta, archive)
            with tempfile.TemporaryDirectory(dir=cache.cache_root(), prefix=".debs-") as dl:
                debs = [archive.download(p, Path(dl)) for p in build.module_list_packages]
                return store_modules(entry, kernel.release, debs, KEPT_MODULES,
                                     {"package": modules_package, "version": str(meta["version"])})
        except ArchiveUnreachable as err:
            if not cache.is_complete(entry):
                raise
            log.warning("%s: Debian's archive unreachable, using the modules cached before "
                        "more were kept (%s): %s", kernel.spec, entry, err)
            return ModuleTree.read(entry)
