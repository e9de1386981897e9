"""Downloads: into a temporary file beside the destination, renamed into place only once
verified, so a half-written or corrupt file is never found under its final name."""
from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from debarchive.errors import ArchiveUnreachable, NotInArchive
from debarchive.verify import check_digest
from harness.errors import InfrastructureError

TIMEOUT = 60
PART_PREFIX = ".part-"
_CHUNK = 1 << 20


def _open(url: str) -> Any:  # urlopen's response type differs by scheme
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT)  # noqa: S310 (http/https/file only, sources.py)
    except urllib.error.HTTPError as err:
        if err.code in (404, 410):
            raise NotInArchive(f"{url}: HTTP {err.code}") from err
        raise InfrastructureError(f"{url}: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, FileNotFoundError):
            raise NotInArchive(f"{url}: no such file") from err
        raise ArchiveUnreachable(f"{url}: {err.reason}") from err
    except (socket.timeout, ConnectionError) as err:
        raise ArchiveUnreachable(f"{url}: {err}") from err


def fetch_bytes(url: str) -> bytes:
    """The whole body of ``url`` (small files: InRelease)."""
    with _open(url) as response:
        try:
            return bytes(response.read())
        except (OSError, socket.timeout) as err:
            raise ArchiveUnreachable(f"{url}: {err}") from err


def fetch_verified(url: str, dest: Path, sha256: str, size: int) -> Path:
    """Download ``url`` to ``dest`` if its size and SHA256 are the expected ones.

    ``VerificationError`` naming the URL otherwise, and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=PART_PREFIX, dir=dest.parent)
    part = Path(name)
    try:
        digest, written = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, _open(url) as response:
            while chunk := _read(response, url):
                digest.update(chunk)
                written += len(chunk)
                if written > size:  # never store more than the index promised
                    break
                out.write(chunk)
        check_digest(digest.hexdigest(), written, sha256, size, url)
        part.chmod(0o600)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _read(response: Any, url: str) -> bytes:
    try:
        return bytes(response.read(_CHUNK))
    except (OSError, socket.timeout) as err:
        raise ArchiveUnreachable(f"{url}: {err}") from err
