"""Kernel SPEC strings: a Debian kernel by name (``kernels.debian`` resolves it against the
archive) or a bzImage path.

Debian names: ``debian:SERIES`` (``debian:6.1``, the default, ``debian:7.3``: the newest
build of that series), ``debian:SERIES.PATCH`` (``debian:6.12.118``: the newest build of
that upstream release), ``debian:RELEASE`` (``debian:7.3.4+deb13-amd64``: exactly that),
``debian:lts`` (the newest kernel.org longterm series the archive has) and
``debian:latest`` (the newest series it has). Which series exist is the archive's to
say, so a syntactically valid name of a series it lacks is refused at resolution.

A path may carry explicit companions: ``PATH[,system_map=P][,config=P][,vmlinux=P][,modules=DIR]``.
Companions not given are looked for beside the image: in a build tree
(``<root>/arch/x86/boot/bzImage`` → ``<root>/vmlinux``, ``System.map``, ``.config``),
in ``/boot`` style (``vmlinuz-R`` → ``System.map-R``, ``config-R``), or in the same
directory under the build-tree names. The module tree (``modules=DIR``: a directory with
``modules.builtin``, e.g. ``lib/modules/<release>`` after ``make modules_install``) defaults
to the build tree's root when it has a ``modules.builtin``.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError

DEFAULT_SPEC = "debian:6.1"
VALID_FORMS = ("debian:SERIES (e.g. debian:6.1, the default; debian:7.3)",
               "debian:SERIES.PATCH (e.g. debian:6.12.118)",
               "debian:RELEASE (e.g. debian:6.1.0-57-amd64, debian:7.3.4+deb13-amd64)",
               "debian:lts", "debian:latest",
               "PATH/TO/bzImage[,system_map=P][,config=P][,vmlinux=P][,modules=DIR]")
_COMPANIONS = ("system_map", "config", "vmlinux")
_SERIES = re.compile(r"^(\d+)\.(\d+)$")
_PATCH = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# uname -r of Debian's generic amd64 flavour: 6.1.0-57-amd64, 6.12.90+deb12.1-amd64, 7.3.4+deb13-amd64.
DEBIAN_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-\d+)?(?:\+deb\d+(?:\.\d+)?)?-amd64$")


class Pick(enum.Enum):
    """What a Debian name selects."""

    SERIES = "series"    # the newest build of a MAJOR.MINOR series
    PATCH = "patch"      # the newest build of one upstream release MAJOR.MINOR.PATCH
    RELEASE = "release"  # exactly one uname -r
    LTS = "lts"          # the newest longterm series the archive has
    LATEST = "latest"    # the newest series the archive has


@dataclass(frozen=True)
class DebianSpec:
    """A Debian kernel name: ``pick`` says what ``value`` is (a series such as ``"7.3"``,
    an upstream release ``"6.12.118"``, a uname -r, or ``""`` for lts/latest)."""

    text: str
    pick: Pick
    value: str = ""

    @property
    def series(self) -> str | None:
        """``MAJOR.MINOR`` when the name fixes it (not for lts/latest)."""
        if self.pick in (Pick.LTS, Pick.LATEST):
            return None
        return ".".join(self.value.split(".")[:2])


@dataclass(frozen=True)
class LocalSpec:
    """A bzImage on disk and whichever companions exist."""

    text: str
    bzimage: Path
    system_map: Path | None
    config: Path | None
    vmlinux: Path | None
    modules: Path | None = None


def _unknown(text: str) -> BadInputError:
    return BadInputError(f"unknown kernel spec {text!r}: use one of {'; '.join(VALID_FORMS)}")


def parse_spec(text: str) -> DebianSpec | LocalSpec:
    """Parse a kernel SPEC; ``BadInputError`` listing the valid forms if it is none of them."""
    text = text.strip() or DEFAULT_SPEC
    if text.startswith("debian:"):
        return _parse_debian(text)
    head = text.split(",", 1)[0]
    if "/" in head or Path(head).exists():
        return _parse_local(text)
    raise _unknown(text)


def _parse_debian(text: str) -> DebianSpec:
    name = text.removeprefix("debian:")
    if name in ("lts", "latest"):
        return DebianSpec(text, Pick(name))
    for pick, pattern in ((Pick.SERIES, _SERIES), (Pick.PATCH, _PATCH), (Pick.RELEASE, DEBIAN_RELEASE)):
        if pattern.match(name):
            return DebianSpec(text, pick, name)
    raise _unknown(text)


def _parse_local(text: str) -> LocalSpec:
    head, *extras = text.split(",")
    bzimage = _existing(Path(head).expanduser(), text, "bzImage")
    given: dict[str, Path] = {}
    for extra in extras:
        key, sep, value = extra.partition("=")
        if not sep or key not in (*_COMPANIONS, "modules"):
            raise BadInputError(f"kernel spec {text!r}: {extra!r} is not one of "
                                f"{', '.join(k + '=PATH' for k in _COMPANIONS)}, modules=DIR")
        given[key] = (_module_tree(Path(value).expanduser(), text) if key == "modules"
                      else _existing(Path(value).expanduser(), text, key))
    found = discover_companions(bzimage)
    return LocalSpec(text, bzimage, given.get("system_map", found["system_map"]),
                     given.get("config", found["config"]), given.get("vmlinux", found["vmlinux"]),
                     given.get("modules", _build_tree_modules(bzimage)))


def _module_tree(path: Path, text: str) -> Path:
    if not (path / "modules.builtin").is_file():
        raise BadInputError(f"kernel spec {text!r}: modules {path} has no modules.builtin "
                            "(give a build tree or lib/modules/<release>)")
    return path.resolve()


def _build_tree_modules(bzimage: Path) -> Path | None:
    """The build tree's root if ``bzimage`` is its ``arch/x86/boot/bzImage`` and it lists modules."""
    if bzimage.parent.parts[-3:] != ("arch", "x86", "boot"):
        return None
    root = bzimage.parents[3]
    return root if (root / "modules.builtin").is_file() else None


def _existing(path: Path, text: str, what: str) -> Path:
    if not path.is_file():
        raise BadInputError(f"kernel spec {text!r}: {what} {path} is not a file")
    return path.resolve()


def discover_companions(bzimage: Path) -> dict[str, Path | None]:
    """``system_map``/``config``/``vmlinux`` found beside ``bzimage``, None where absent."""
    candidates: dict[str, list[Path]] = {key: [] for key in _COMPANIONS}
    if bzimage.parent.parts[-3:] == ("arch", "x86", "boot"):
        _add_tree(candidates, bzimage.parents[3])
    if bzimage.name.startswith("vmlinuz-"):
        release = bzimage.name.removeprefix("vmlinuz-")
        candidates["system_map"].append(bzimage.with_name(f"System.map-{release}"))
        candidates["config"].append(bzimage.with_name(f"config-{release}"))
        candidates["vmlinux"].append(bzimage.with_name(f"vmlinux-{release}"))
    _add_tree(candidates, bzimage.parent)
    return {key: next((p for p in paths if p.is_file()), None) for key, paths in candidates.items()}


def _add_tree(candidates: dict[str, list[Path]], root: Path) -> None:
    candidates["system_map"].append(root / "System.map")
    candidates["config"].append(root / ".config")
    candidates["vmlinux"].append(root / "vmlinux")
