"""Where Debian's archives are: read from the host's apt configuration, or overridden.

The main and the security archive are told apart by the suites an apt entry lists: an
entry naming ``<codename>-security`` is the security archive; one naming a suite of
``SUITES`` (or its ``-updates``/``-backports``/``-proposed-updates``) is the main
archive. Both apt formats are read: deb822 ``*.sources`` and one-line ``*.list`` /
``sources.list``. ``MEMHP_DEBIAN_MIRROR`` and ``MEMHP_DEBIAN_SECURITY_MIRROR`` override
them (a host with no apt configuration, or a local mirror); http, https and file URIs.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from debian.deb822 import Deb822

from debarchive.suites import SUITES, Origin
from harness.errors import BadInputError

APT_ETC = Path("/etc/apt")
ENV = {Origin.MAIN: "MEMHP_DEBIAN_MIRROR", Origin.SECURITY: "MEMHP_DEBIAN_SECURITY_MIRROR"}
_SCHEMES = ("http://", "https://", "file:/")
_POCKETS = ("-updates", "-backports", "-proposed-updates")
_ALIASES = ("stable", "oldstable", "testing", "unstable")


def _entries_deb822(path: Path) -> Iterator[tuple[list[str], list[str]]]:
    with path.open(encoding="utf-8") as fh:
        for para in Deb822.iter_paragraphs(fh, use_apt_pkg=False):
            if "deb" not in para.get("Types", "").split() or para.get("Enabled", "yes").lower() == "no":
                continue
            yield para.get("URIs", "").split(), para.get("Suites", "").split()


def _entries_one_line(path: Path) -> Iterator[tuple[list[str], list[str]]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            yield [words[0]], [words[1]]


def apt_entries(etc: Path = APT_ETC) -> Iterator[tuple[list[str], list[str]]]:
    """``(URIs, Suites)`` of each enabled ``deb`` entry in apt's configuration."""
    one_line = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            yield from _entries_one_line(path)
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        yield from _entries_deb822(path)


def _origin(suites: Iterable[str]) -> Origin | None:
    known = {s.name for s in SUITES if s.origin is Origin.MAIN} | set(_ALIASES)
    names = list(suites)
    if any(name.endswith("-security") or name.endswith("/updates") for name in names):
        return Origin.SECURITY
    for name in names:
        base = next((name.removesuffix(p) for p in _POCKETS if name.endswith(p)), name)
        if base in known:
            return Origin.MAIN
    return None


def mirrors(etc: Path = APT_ETC) -> dict[Origin, str]:
    """The URI of each archive found (environment first, then apt), without a trailing slash.

    ``BadInputError`` if the main archive is nowhere: the message names the variable to set.
    """
    found: dict[Origin, str] = {}
    for origin, var in ENV.items():
        if os.environ.get(var):
            found[origin] = _checked(os.environ[var], var)
    for uris, suites in apt_entries(etc):
        kind = _origin(suites)
        usable = [u for u in uris if u.startswith(_SCHEMES)]
        if kind is not None and usable and kind not in found:
            found[kind] = usable[0].rstrip("/")
    if Origin.MAIN not in found:
        raise BadInputError(f"no Debian archive in {etc}/sources.list{{,.d/*.list,.d/*.sources}}: "
                            f"set {ENV[Origin.MAIN]} to a Debian mirror's URI (…/debian)")
    return found


def _checked(uri: str, var: str) -> str:
    if not uri.startswith(_SCHEMES):
        raise BadInputError(f"{var}={uri!r}: not an http://, https:// or file:/ URI")
    return uri.rstrip("/")
