"""``--qemu debian:…``: a QEMU from Debian's archive, verified, unpacked into the cache.

Specs: ``debian:<suite>`` (the newest qemu-system-x86 of bookworm-backports, trixie, sid…)
or ``debian:<version>`` (``debian:10.0``: the newest 10.0.x, from the host release's own
suites when they have one, as a lab would install it, else from any suite). The packages
(``PACKAGES``, one suite and version) come through :mod:`debarchive` (InRelease
signature, then SHA256 of each .deb), are unpacked into ``<cache>/qemu/<suite>_<version>``
and run from there with their own data and modules (:mod:`harness.qemu.binary`). The
libraries come from the host: a QEMU built for a newer release may need ones it lacks,
which ``ldd`` names, and memhp says so in one line (could not test) instead of a QEMU
that dies at its first instruction.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock

import debarchive
from harness.errors import BadInputError, InfrastructureError
from harness.paths import cache_dir
from harness.qemu.binary import QEMU_BINARY, QemuBinary

# The binary, its data files (firmware, option ROMs, keymaps) and its common files (the
# module directory's layout); block and GUI modules are not needed by a headless guest.
PACKAGES = ("qemu-system-x86", "qemu-system-data", "qemu-system-common")
# Each Debian release's own suites, in the order a lab would take them.
HOST_SUITES = {"12": ("bookworm", "bookworm-security", "bookworm-backports"),
               "13": ("trixie", "trixie-security", "trixie-backports")}
_DONE = ".memhp-unpacked"  # written last: a tree without it is a torn unpack
# The newer QEMU a lab on each release installs beside its own: its backports' (10.0 on
# Debian 12, 11.1 on Debian 13); CI runs a slice of the suite on it (tests/integration/test_second_qemu.py).
BACKPORTS = {"12": "debian:bookworm-backports", "13": "debian:trixie-backports"}


def host_release(os_release: Path = Path("/etc/os-release")) -> str | None:
    """The host's Debian major release ("12", "13"), None when not Debian or unknown."""
    try:
        text = os_release.read_text()
    except OSError:
        return None
    if not re.search(r"^ID=\"?debian\"?$", text, re.MULTILINE):
        return None
    found = re.search(r"^VERSION_ID=\"?(\d+)", text, re.MULTILINE)
    return found.group(1) if found else None


def upstream(version: str) -> str:
    """``1:10.0.2+ds-2+deb13u1~bpo12+1`` → ``10.0.2``."""
    return re.sub(r"[+~-].*$", "", version.split(":", 1)[-1])


def choose(spec: str, packages: list[debarchive.Package], host: str | None) -> debarchive.Package:
    """The qemu-system-x86 package ``spec`` names, among ``packages``."""
    want = spec.removeprefix("debian:")
    suites = [s.name for s in debarchive.SUITES]
    if want in suites:
        found = [p for p in packages if p.suite == want]
    elif re.fullmatch(r"\d+(\.\d+){0,2}", want):
        found = [p for p in packages if upstream(p.version) == want or upstream(p.version).startswith(want + ".")]
        own = [p for p in found if p.suite in HOST_SUITES.get(host or "", ())]
        found = own or found
    else:
        raise BadInputError(f"--qemu: {spec}: expected debian:<suite> ({', '.join(suites)}) or "
                            "debian:<version> (e.g. debian:10.0)")
    if not found:
        have = sorted({f"{upstream(p.version)} ({p.suite})" for p in packages})
        raise BadInputError(f"--qemu: {spec}: no qemu-system-x86 in the archive matches; it has "
                            f"{', '.join(have) or 'none'}")
    return max(found, key=lambda p: p.debian_version)


def _missing_libraries(binary: Path) -> list[str]:
    """What the host's loader cannot give ``binary``: libraries, and symbol versions (a
    newer glibc), as ``ldd`` prints them."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    text = proc.stdout + proc.stderr
    libs = re.findall(r"^\s*(\S+) => not found", text, re.MULTILINE)
    versions = re.findall(r"version `([^']+)' not found", text)
    return sorted(set(libs)) + sorted(set(versions))


def _unpack(archive: debarchive.Archive, main: debarchive.Package, root: Path) -> None:
    """The packages of ``main``'s suite and version, unpacked into ``root`` at once."""
    wanted = "|".join(re.escape(n) for n in PACKAGES)
    debs = [p for p in archive.packages(f"({wanted})")
            if p.suite == main.suite and p.version == main.version]
    lacking = set(PACKAGES) - {p.name for p in debs}
    if lacking:
        raise InfrastructureError(f"{main.suite}: no {', '.join(sorted(lacking))} {main.version} "
                                  "beside qemu-system-x86")
    partial = Path(tempfile.mkdtemp(prefix=root.name + ".", dir=root.parent))
    try:
        for pkg in debs:
            debarchive.unpack(archive.download(pkg), partial)
        # Pointed at by QEMU_MODULE_DIR even when empty: never the host QEMU's modules.
        (partial / "usr/lib/x86_64-linux-gnu/qemu").mkdir(parents=True, exist_ok=True)
        (partial / _DONE).write_text("".join(f"{p.name} {p.version} {p.suite} {p.sha256}\n" for p in debs))
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def archive_qemu(spec: str, archive: debarchive.Archive | None = None,
                 host: str | None = None) -> QemuBinary:
    """The QEMU ``spec`` names, fetched, verified and unpacked once into the cache."""
    archive = archive or debarchive.Archive()
    main = choose(spec, archive.packages("qemu-system-x86"), host or host_release())
    folder = cache_dir("qemu")
    root = folder / re.sub(r"[^A-Za-z0-9.+_-]", "_", f"{main.suite}_{main.version}")
    with FileLock(str(root) + ".lock"):
        if not (root / _DONE).exists():
            _unpack(archive, main, root)
    binary = root / "usr/bin" / QEMU_BINARY
    if missing := _missing_libraries(binary):
        raise InfrastructureError(f"--qemu {spec}: qemu-system-x86 {main.version} ({main.suite}) needs "
                                  f"libraries this host lacks: {', '.join(missing)}")
    return QemuBinary(spec, binary, root, package=f"qemu-system-x86 {main.version} ({main.suite})")
