"""Signature and checksum checks: ``gpgv`` for an ``InRelease``, SHA256 for the rest.

An InRelease is accepted when at least one of its signatures is good and made by a key
of the keyring, and none is bad: Debian signs each suite with the keys of two releases,
and a host's keyring may lack the newer one (apt's own rule, apt-pkg/contrib/gpgv.cc).
The text returned is what gpgv says was signed, never the file's own text, so nothing
outside the signature is ever read.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from debarchive.errors import VerificationError
from harness.errors import BadInputError, InfrastructureError

# Debian 13's debian-archive-keyring ships .pgp files; Debian 12's .gpg.
KEYRINGS = (Path("/usr/share/keyrings/debian-archive-keyring.pgp"),
            Path("/usr/share/keyrings/debian-archive-keyring.gpg"))
KEYRING_ENV = "MEMHP_DEBIAN_KEYRING"
_GPGV_TIMEOUT = 60


@dataclass(frozen=True)
class Signed:
    """The signed text of an InRelease and the (long) ids of the keys that signed it."""

    text: str
    signers: tuple[str, ...]


def default_keyring() -> Path:
    """``MEMHP_DEBIAN_KEYRING`` (a local mirror's own key), else the host's Debian archive
    keyring; ``InfrastructureError`` naming the package if absent."""
    override = os.environ.get(KEYRING_ENV)
    if override:
        if not Path(override).is_file():
            raise BadInputError(f"{KEYRING_ENV}={override}: not a file")
        return Path(override)
    found = next((k for k in KEYRINGS if k.is_file()), None)
    if found is None:
        raise InfrastructureError(f"no Debian archive keyring ({' or '.join(map(str, KEYRINGS))}): "
                                  "apt-get install debian-archive-keyring")
    return found


def verify_inrelease(data: bytes, keyring: Path, where: str) -> Signed:
    """The signed part of ``data`` (an InRelease) if a key of ``keyring`` signed it."""
    with tempfile.TemporaryDirectory(prefix="memhp-gpgv-") as home:
        src, out = Path(home) / "InRelease", Path(home) / "Release"
        src.write_bytes(data)
        try:
            proc = subprocess.run(
                ["gpgv", "--homedir", home, "--status-fd", "1", "--keyring", str(keyring),
                 "--output", str(out), str(src)],
                capture_output=True, text=True, timeout=_GPGV_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise InfrastructureError(f"gpgv: {err} (apt-get install gpgv)") from err
        status = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] ")]
        # GOODSIG: good and by a usable key; an expired or revoked key's signature
        # (EXPKEYSIG, REVKEYSIG) counts for nothing, as in apt; BADSIG spoils the file.
        good = tuple(words[1] for words in status if words[0] == "GOODSIG" and len(words) > 1)
        bad = any(words[0] == "BADSIG" for words in status)
        if not good or bad or not out.is_file():
            detail = "; ".join(line for line in proc.stderr.splitlines() if line.strip())[-400:]
            raise VerificationError(f"{where}: signature {'BAD' if bad else 'not verified'} "
                                    f"with keyring {keyring}: {detail}")
        return Signed(out.read_text(encoding="utf-8"), good)


def check_digest(actual_sha256: str, actual_size: int, sha256: str, size: int, where: str) -> None:
    """``VerificationError`` naming ``where`` unless size and SHA256 are the expected ones."""
    if actual_size != size:
        raise VerificationError(f"{where}: size {actual_size} bytes, the signed index says {size}")
    if actual_sha256 != sha256:
        raise VerificationError(f"{where}: SHA256 {actual_sha256}, the signed index says {sha256}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
