"""A real, small Debian archive built in a test: .debs made by ``dpkg-deb --build``, a
``Packages.xz``, a ``Release`` clear-signed into ``InRelease`` by a throwaway GnuPG key,
served over loopback HTTP. Only the network and the key are not Debian's."""
from __future__ import annotations

import hashlib
import http.server
import lzma
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pytest

from debarchive import Archive, Origin

NEEDED = ("gpg", "gpgv", "dpkg-deb", "gpgconf")
needs_tools = pytest.mark.skipif(any(shutil.which(t) is None for t in NEEDED),
                                 reason=f"needs {', '.join(NEEDED)} (scripts/setup installs them)")


@dataclass(frozen=True)
class Key:
    """A throwaway signing key: its GnuPG home and its exported public keyring."""

    home: Path
    keyring: Path


def make_key(directory: Path, name: str, home: Path | None = None) -> Key:
    """A new key; in ``home`` beside the keys already there if given (to sign with several),
    its keyring holding this key alone."""
    home = home or directory / f"gpg-{name}"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", f"memhp test {name} <{name}@example.org>", "ed25519", "sign", "never"],
                   check=True, capture_output=True)
    keyring = directory / f"{name}.gpg"
    keyring.write_bytes(subprocess.run([*gpg, "--export", f"<{name}@example.org>"], check=True,
                                       capture_output=True).stdout)
    return Key(home, keyring)


def stop_agent(key: Key) -> None:
    subprocess.run(["gpgconf", "--homedir", str(key.home), "--kill", "gpg-agent"], capture_output=True, check=False)


@dataclass
class FakeArchive:
    """An archive tree under ``root``: ``add`` packages to suites, then ``publish``."""

    root: Path
    work: Path
    stanzas: dict[str, list[str]] = field(default_factory=dict)

    def add(self, suite: str, name: str, version: str, files: Mapping[str, bytes] = {},
            symlinks: Mapping[str, str] = {}) -> Path:
        """Build ``name`` ``version`` with ``files`` (path → bytes) and add it to ``suite``."""
        tree = self.work / f"{name}_{version}"
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(
            f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
            "Maintainer: memhp tests <t@example.org>\nDescription: fake package\n")
        for rel, data in files.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes(data)
        for rel, target in symlinks.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).symlink_to(target)
        pool = f"pool/main/{name[0]}/{name}/{name}_{version.partition(':')[2] or version}_amd64.deb"  # no epoch, as dak
        deb = self.root / pool
        deb.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(deb)],
                       check=True, capture_output=True)
        data = deb.read_bytes()
        self.stanzas.setdefault(suite, []).append(
            f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nFilename: {pool}\n"
            f"Size: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\nDescription: fake\n")
        return deb

    def publish(self, suite: str, key: Key, codename: str | None = None,
                valid_until: datetime | None = None, signers: tuple[str, ...] = ()) -> Path:
        """Write ``suite``'s Packages.xz (plain and by-hash), Release and InRelease, signed by
        ``signers`` (names given to ``make_key`` in ``key``'s home) or by ``key`` alone."""
        dists = self.root / "dists" / suite
        binary = dists / "main" / "binary-amd64"
        binary.mkdir(parents=True, exist_ok=True)
        packages = lzma.compress("\n".join(self.stanzas.get(suite, [])).encode())
        digest = hashlib.sha256(packages).hexdigest()
        (binary / "Packages.xz").write_bytes(packages)
        (binary / "by-hash" / "SHA256").mkdir(parents=True, exist_ok=True)
        (binary / "by-hash" / "SHA256" / digest).write_bytes(packages)
        now = datetime.now(timezone.utc)
        release = (f"Origin: memhp-test\nSuite: {suite}\nCodename: {codename or suite}\n"
                   f"Date: {format_datetime(now)}\n"
                   + (f"Valid-Until: {format_datetime(valid_until)}\n" if valid_until else "")
                   + f"Acquire-By-Hash: yes\nArchitectures: amd64\nComponents: main\nSHA256:\n"
                   f" {digest} {len(packages)} main/binary-amd64/Packages.xz\n")
        (dists / "Release").write_text(release)
        subprocess.run(["gpg", "--homedir", str(key.home), "--batch", "--yes", "--pinentry-mode", "loopback",
                        "--passphrase", "", "--digest-algo", "SHA512", "--clearsign",
                        *[arg for name in signers for arg in ("--local-user", f"<{name}@example.org>")],
                        "--output", str(dists / "InRelease"), str(dists / "Release")],
                       check=True, capture_output=True)
        return dists / "InRelease"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        requests = getattr(self.server, "requests", None)
        if requests is not None:
            requests.append(self.path)


@contextmanager
def serve(root: Path, requests: list[str] | None = None) -> Iterator[str]:
    """``root`` over HTTP on 127.0.0.1 (a free port); yields the base URI. The path of
    each request served is appended to ``requests`` if given."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    server.requests = requests  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def unreachable_uri() -> str:
    """An http URI on loopback where nothing listens (a port just closed)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


def archive(uri: str, key: Key, root: Path, suites: tuple[str, ...] = ("trixie",), max_age: float = 3600) -> Archive:
    """A client of the fake archive (every suite from the main archive)."""
    from debarchive import Suite
    return Archive(mirrors={Origin.MAIN: uri}, keyring=key.keyring, suites=[Suite(s, Origin.MAIN) for s in suites],
                   root=root, max_age=max_age)
