"""A verified client of Debian's archive: the suites' package indexes and their .debs.

The chain of trust is apt's: each suite's ``InRelease`` is verified with the Debian
archive keyring (``gpgv``), the SHA256 of ``main/binary-amd64/Packages.xz`` comes from
the signed text, each .deb's SHA256 from that verified index. Indexes are cached (as
SQLite, ``store.py``) for ``MAX_AGE`` and re-read after; the archive unreachable,
a cached index is used and a line says so. Everything lives under
``<cache>/debian-archive/`` in directories only the user can read.

Old indexes are accepted after their ``Valid-Until``: that field guards against a
mirror that stopped updating, and a stale but authentic index still names authentic
packages; memhp says so in a line instead of refusing (unstable's lapses on mirrors).
"""
from __future__ import annotations

import logging
import re
import tempfile
import urllib.parse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debian.debian_support import Version
from filelock import FileLock

from debarchive import index, sources, store, transfer
from debarchive.errors import ArchiveUnreachable, NotInArchive, VerificationError
from debarchive.store import SuiteIndex
from debarchive.suites import SUITES, Origin, Suite, suite_rank
from debarchive.verify import default_keyring, sha256_of, verify_inrelease
from harness import paths

log = logging.getLogger(__name__)

MAX_AGE = 6 * 3600.0  # seconds an index is used before the archive is asked again


@dataclass(frozen=True)
class Package:
    """One binary package of one suite, as its verified index describes it."""

    name: str
    version: str
    suite: str
    filename: str
    sha256: str
    size: int

    @property
    def debian_version(self) -> Version:
        """The version, ordered as dpkg orders versions."""
        return Version(self.version)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


class Archive:
    """Debian's archive as memhp reads it; every argument has a default for real use.

    ``mirrors`` maps each origin to its URI (default: ``sources.mirrors()``), ``keyring``
    the keys trusted (default: the host's Debian archive keyring), ``root`` the cache
    directory, ``max_age`` how long (s) a cached index is used without asking again.
    """

    def __init__(self, *, mirrors: Mapping[Origin, str] | None = None, keyring: Path | None = None,
                 suites: Sequence[Suite] = SUITES, root: Path | None = None,
                 max_age: float = MAX_AGE) -> None:
        self._mirrors = dict(mirrors) if mirrors is not None else None
        self._keyring = keyring
        self.suites = tuple(suites)
        self.root = root if root is not None else paths.cache_root() / "debian-archive"
        self.max_age = max_age
        self._loaded: dict[str, SuiteIndex | None] = {}
        # suite -> why it was not read this time (kernels list --available shows it)
        self.skipped: dict[str, str] = {}

    @property
    def mirrors(self) -> dict[Origin, str]:
        if self._mirrors is None:
            self._mirrors = sources.mirrors()
        return self._mirrors

    @property
    def keyring(self) -> Path:
        if self._keyring is None:
            self._keyring = default_keyring()
        return self._keyring

    # -- indexes -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask the archive again for every suite now, whatever the cached indexes' age."""
        self._loaded = {s.name: self._suite_index(s, force=True) for s in self.suites}

    def indexes(self) -> list[SuiteIndex]:
        """The index of every suite that has one (fetched or cached), in suite order."""
        found = [self._index(s) for s in self.suites]
        return [i for i in found if i is not None]

    def _index(self, suite: Suite) -> SuiteIndex | None:
        if suite.name not in self._loaded:
            self._loaded[suite.name] = self._suite_index(suite, force=False)
        return self._loaded[suite.name]

    def _index_path(self, suite: Suite) -> Path:
        return self.root / "indexes" / f"{suite.name}.sqlite"

    def _suite_index(self, suite: Suite, force: bool) -> SuiteIndex | None:
        path = self._index_path(suite)
        _private_dir(path.parent)
        with FileLock(str(path) + ".lock"):
            cached = store.read(path)
            if cached is not None and not force and time.time() - cached.fetched < self.max_age:
                return cached
            if suite.origin not in self.mirrors:
                self.skipped[suite.name] = f"no {suite.origin.value} configured (set {sources.ENV[suite.origin]})"
                log.info("%s: %s", suite.name, self.skipped[suite.name])
                return cached
            try:
                return self._update(suite, cached, path)
            except ArchiveUnreachable as err:
                if cached is None:
                    raise
                log.warning("%s: archive unreachable, using the index fetched %s: %s", suite.name,
                            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(cached.fetched)), err)
                return cached
            except NotInArchive as err:
                self.skipped[suite.name] = f"not on this mirror ({err})"
                log.info("%s: %s", suite.name, self.skipped[suite.name])
                return cached

    def _update(self, suite: Suite, cached: SuiteIndex | None, path: Path) -> SuiteIndex:
        base = f"{self.mirrors[suite.origin]}/dists/{suite.name}"
        url = f"{base}/InRelease"
        signed = verify_inrelease(transfer.fetch_bytes(url), self.keyring, url)
        info = index.read_release(signed.text, url)
        # SUITES are codenames; a genuine index of another suite served here is refused.
        if info.codename != suite.name:
            raise VerificationError(f"{url}: signed for suite {info.codename!r}, not {suite.name!r}")
        meta = {"suite": suite.name, "signers": list(signed.signers),
                "date": info.date.isoformat() if info.date else "",
                "valid_until": info.valid_until.isoformat() if info.valid_until else "",
                "packages_sha256": info.packages_sha256, "fetched": time.time()}
        if cached is not None and cached.packages_sha256 == info.packages_sha256:
            result = store.update_meta(cached, meta)
        else:
            result = store.write(path, meta, self._fetch_packages(base, info, signed.text))
        if result.expired:
            log.info("%s: the signed index expired %s (the mirror is behind); its packages "
                     "are still verified", suite.name, result.valid_until)
        return result

    def _fetch_packages(self, base: str, info: index.ReleaseInfo, release_text: str) -> list[index.Row]:
        # by-hash names the exact file the Release lists, so a mirror updating meanwhile
        # cannot hand a newer Packages.xz to an older Release (apt's Acquire-By-Hash).
        by_hash = re.search(r"^Acquire-By-Hash:\s*yes\s*$", release_text, re.MULTILINE | re.IGNORECASE)
        directory = PurePosixPath(index.PACKAGES_XZ).parent
        rel = (f"{directory}/by-hash/SHA256/{info.packages_sha256}" if by_hash else index.PACKAGES_XZ)
        url = f"{base}/{rel}"
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".indexes-") as tmp:
            xz = transfer.fetch_verified(url, Path(tmp) / "Packages.xz", info.packages_sha256,
                                         info.packages_size)
            return index.read_packages(xz.read_bytes(), url)

    # -- packages ------------------------------------------------------------------------

    def packages(self, name_regex: str | re.Pattern[str]) -> list[Package]:
        """Every package of every suite whose name matches ``name_regex`` entirely,
        by name, then suite order, then version."""
        pattern = re.compile(name_regex)
        found = [Package(row[0], row[1], idx.suite, row[2], row[3], row[4])
                 for idx in self.indexes() for row in idx.rows(pattern)]
        return sorted(found, key=lambda p: (p.name, suite_rank(p.suite), p.debian_version))

    def download(self, pkg: Package, directory: Path | None = None) -> Path:
        """``pkg``'s .deb, verified against its index, in ``directory`` (default: the
        archive's own ``debs/``); downloaded only if no verified copy is there."""
        where = self._deb_url(pkg)
        rel = index.pool_path(pkg.filename, where)
        target_dir = directory if directory is not None else _private_dir(self.root / "debs")
        target_dir.mkdir(parents=True, exist_ok=True)
        dest = target_dir / rel.name
        with FileLock(str(dest) + ".lock"):
            if dest.is_file() and dest.stat().st_size == pkg.size and sha256_of(dest) == pkg.sha256:
                return dest
            return transfer.fetch_verified(where, dest, pkg.sha256, pkg.size)

    def _deb_url(self, pkg: Package) -> str:
        suite = next((s for s in self.suites if s.name == pkg.suite), None)
        if suite is None or suite.origin not in self.mirrors:
            raise ArchiveUnreachable(f"{pkg.name} {pkg.version}: no archive configured for {pkg.suite}")
        return f"{self.mirrors[suite.origin]}/{urllib.parse.quote(pkg.filename)}"
