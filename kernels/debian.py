"""Debian kernels: resolve a series to the archive's newest package, fetch, cache.

``debian:6.1`` is the newest ``linux-image-6.1.0-<abi>-amd64-unsigned`` the apt
lists know, ``debian:6.12`` the newest ``linux-image-6.12.<n>+deb12-amd64-unsigned``.
Only ``boot/`` is taken from the package (vmlinuz, System.map, config), streamed
out of ``dpkg-deb --fsys-tarfile`` under names memhp chooses, so nothing the
package says can write outside the cache entry. The vmlinux is extracted once at
fetch time. When apt cannot deliver, the newest cached kernel of the series is used.
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError
from kernels import cache
from kernels.bzimage import write_vmlinux
from kernels.kernel import Kernel, make_kernel
from kernels.spec import DebianSpec

log = logging.getLogger(__name__)

# One regex per series (POSIX ERE too: apt-cache search reads it); group 1 orders packages (ABI number or stable patch level).
PACKAGE_PATTERNS = {
    "6.1": r"^linux-image-6\.1\.0-([0-9]+)-amd64-unsigned$",
    "6.12": r"^linux-image-6\.12\.([0-9]+)\+deb12-amd64-unsigned$",
}
_BOOT_FILES = {"vmlinuz": "vmlinuz-{}", "System.map": "System.map-{}", "config": "config-{}"}
_TAIL_LINES = 15
_APT_TIMEOUT = 900

# (package, version, directory) -> path of the downloaded .deb inside directory.
Downloader = Callable[[str, str, Path], Path]


@dataclass(frozen=True)
class DebianPackage:
    """One binary kernel package at one version."""

    package: str
    version: str

    @property
    def release(self) -> str:
        return self.package.removeprefix("linux-image-").removesuffix("-unsigned")

    @property
    def entry(self) -> Path:
        return cache.cache_root() / f"{self.package}_{self.version}"


def _run(args: Sequence[str], cwd: Path | None = None) -> str:
    """Run an apt/dpkg command; ``InfrastructureError`` with its output tail on failure."""
    try:
        proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True,
                              timeout=_APT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InfrastructureError(f"{' '.join(args)}: {err}") from err
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-_TAIL_LINES:])
        raise InfrastructureError(f"{' '.join(args)} exited {proc.returncode}:\n{tail}")
    return proc.stdout


APT_LISTS = Path("/var/lib/apt/lists")


def archive_package(spec: DebianSpec) -> DebianPackage | None:
    """The package the apt lists offer for ``spec`` (newest ABI unless pinned), or None.

    Asking apt costs about a second per run; the answer only changes when the lists do,
    so it is memoised per spec against the lists' modification time.
    """
    memo = cache.cache_root() / "apt-resolution.json"
    stamp = str(APT_LISTS.stat().st_mtime_ns) if APT_LISTS.exists() else "none"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    hit = known.get(spec.text)
    if isinstance(hit, dict) and hit.get("lists") == stamp:
        return DebianPackage(hit["package"], hit["version"])
    pkg = _ask_apt(spec)
    if pkg is not None:
        known[spec.text] = {"lists": stamp, "package": pkg.package, "version": pkg.version}
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, memo)
    return pkg


def _ask_apt(spec: DebianSpec) -> DebianPackage | None:
    if spec.release is not None:
        names = [f"linux-image-{spec.release}-unsigned"]
    else:
        pattern = re.compile(PACKAGE_PATTERNS[spec.series])
        out = _run(["apt-cache", "search", "--names-only", pattern.pattern])
        found = [m for m in (pattern.match(line.split(" - ", 1)[0]) for line in out.splitlines()) if m]
        names = [m.group(0) for m in sorted(found, key=lambda m: int(m.group(1)), reverse=True)]
    for name in names:
        version = candidate_version(name)
        if version is not None:
            return DebianPackage(name, version)
    return None


def candidate_version(package: str) -> str | None:
    """``apt-cache policy``'s candidate version, None if apt has none."""
    try:
        out = _run(["apt-cache", "policy", package])
    except InfrastructureError:
        return None
    match = re.search(r"^\s*Candidate:\s*(\S+)", out, re.MULTILINE)
    return None if match is None or match.group(1) == "(none)" else match.group(1)


def apt_download(package: str, version: str, directory: Path) -> Path:
    """``apt-get download PACKAGE=VERSION`` into ``directory``."""
    _run(["apt-get", "download", f"{package}={version}"], cwd=directory)
    debs = sorted(directory.glob("*.deb"))
    if len(debs) != 1:
        raise InfrastructureError(f"apt-get download {package}={version} left {len(debs)} .deb files")
    return debs[0]


def stream_deb(deb: Path, on_member: Callable[[tarfile.TarInfo, Callable[[], bytes]], None]) -> None:
    """Call ``on_member(member, read)`` for each member of ``deb``'s data archive, in order.

    ``read()`` gives the member's bytes; nothing is written by this function, so the
    caller chooses every name that reaches the disk.
    """
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                on_member(member, lambda m=member: tar.extractfile(m).read())  # type: ignore[union-attr,misc]
    except tarfile.TarError as err:
        raise InfrastructureError(f"{deb}: data archive unreadable: {err}") from err
    finally:
        proc.stdout.close()
        errors = proc.stderr.read().decode("utf-8", "replace")
        proc.wait()
    if proc.returncode != 0:
        raise InfrastructureError(f"dpkg-deb --fsys-tarfile {deb} exited {proc.returncode}: {errors}")


def extract_boot_files(deb: Path, release: str, dest: Path) -> None:
    """Copy ``boot/{vmlinuz,System.map,config}-RELEASE`` from ``deb`` to ``dest``."""
    wanted = {f"./boot/{pattern.format(release)}": name for name, pattern in _BOOT_FILES.items()}

    def take(member: tarfile.TarInfo, read: Callable[[], bytes]) -> None:
        name = wanted.pop(member.name, None)
        if name is not None and member.isfile():
            (dest / name).write_bytes(read())

    stream_deb(deb, take)
    if "./boot/" + _BOOT_FILES["vmlinuz"].format(release) in wanted:
        raise InfrastructureError(f"{deb}: no boot/vmlinuz-{release}")


def fetch_package(pkg: DebianPackage, downloader: Downloader = apt_download) -> Path:
    """The cache entry of ``pkg``, downloading and unpacking it unless already cached."""
    entry = pkg.entry
    with cache.entry_lock(entry):
        if cache.is_complete(entry):
            return entry
        with cache.staging(entry) as tmp, tempfile.TemporaryDirectory(dir=tmp) as dl:
            deb = downloader(pkg.package, pkg.version, Path(dl))
            extract_boot_files(deb, pkg.release, tmp)
            write_vmlinux(tmp / "vmlinuz", tmp / "vmlinux")
            meta = {"package": pkg.package, "version": pkg.version, "release": pkg.release,
                    "deb_sha256": cache.sha256_file(deb),
                    "vmlinuz_sha256": cache.sha256_file(tmp / "vmlinuz")}
            (tmp / cache.META).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("cached %s %s in %s", pkg.package, pkg.version, entry)
    return entry


def kernel_from_entry(entry: Path, spec: str) -> Kernel:
    """The ``Kernel`` of a complete cache entry."""
    meta = json.loads((entry / cache.META).read_text())
    optional = {name: entry / name for name in ("System.map", "config", "vmlinux")}
    present = {name: (path if path.is_file() else None) for name, path in optional.items()}
    return make_kernel(spec, entry / "vmlinuz", system_map=present["System.map"],
                       config=present["config"], vmlinux=present["vmlinux"],
                       package_version=str(meta["version"]), source="debian")


def cached_packages(series: str | None = None) -> list[DebianPackage]:
    """Complete cache entries (of ``series`` if given), newest first."""
    root = cache.cache_root()
    patterns = [re.compile(PACKAGE_PATTERNS[s]) for s in ([series] if series else PACKAGE_PATTERNS)]
    found: list[tuple[int, DebianPackage]] = []
    for entry in sorted(root.glob("linux-image-*_*")) if root.is_dir() else []:
        package, _, version = entry.name.partition("_")
        match = next((m for m in (p.match(package) for p in patterns) if m), None)
        if match is not None and cache.is_complete(entry):
            found.append((int(match.group(1)), DebianPackage(package, version)))
    return [pkg for _, pkg in sorted(found, key=lambda item: item[0], reverse=True)]


def resolve_debian(spec: DebianSpec, downloader: Downloader = apt_download) -> Kernel:
    """Fetch (or reuse) the kernel ``spec`` names; fall back to the cache when apt fails."""
    try:
        return kernel_from_entry(_fetch_updating(spec, downloader), spec.text)
    except InfrastructureError as err:
        cached = [p for p in cached_packages(spec.series)
                  if spec.release is None or p.release == spec.release]
        if not cached:
            raise
        log.warning("%s: using cached %s %s: %s", spec.text, cached[0].package, cached[0].version, err)
        return kernel_from_entry(cached[0].entry, spec.text)


def _fetch_updating(spec: DebianSpec, downloader: Downloader) -> Path:
    """Fetch ``spec``'s package, running ``apt-get update`` once if the lists lack or
    misstate it (a superseded version gives 404)."""
    pkg = archive_package(spec)
    if pkg is not None:
        try:
            return fetch_package(pkg, downloader)
        except InfrastructureError as err:
            log.info("%s: retrying after apt-get update: %s", spec.text, err)
    _run(["apt-get", "update"])
    pkg = archive_package(spec)
    if pkg is None:
        raise InfrastructureError(f"{spec.text}: no matching package in the apt lists "
                                  f"(pattern {PACKAGE_PATTERNS[spec.series]})")
    return fetch_package(pkg, downloader)
