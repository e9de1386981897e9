"""Kernel SPEC strings: ``debian:6.1`` (default), ``debian:6.12``, ``debian:<release>``, or a bzImage path.

A path may carry explicit companions: ``PATH[,system_map=P][,config=P][,vmlinux=P][,modules=DIR]``.
Companions not given are looked for beside the image: in a build tree
(``<root>/arch/x86/boot/bzImage`` → ``<root>/vmlinux``, ``System.map``, ``.config``),
in ``/boot`` style (``vmlinuz-R`` → ``System.map-R``, ``config-R``), or in the same
directory under the build-tree names. The module tree (``modules=DIR``: a directory with
``modules.builtin``, e.g. ``lib/modules/<release>`` after ``make modules_install``) defaults
to the build tree's root when it has a ``modules.builtin``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError

DEFAULT_SPEC = "debian:6.1"
DEBIAN_SERIES = ("6.1", "6.12")
VALID_FORMS = ("debian:6.1 (default)", "debian:6.12",
               "debian:<release> (e.g. debian:6.1.0-47-amd64)",
               "PATH/TO/bzImage[,system_map=P][,config=P][,vmlinux=P][,modules=DIR]")
_COMPANIONS = ("system_map", "config", "vmlinux")
_DEBIAN_RELEASE = re.compile(r"^(\d+\.\d+)[.\d]*(?:-\d+|\+deb\d+)-amd64$")


@dataclass(frozen=True)
class DebianSpec:
    """A Debian kernel: the newest of ``series``, or exactly ``release`` when pinned."""

    text: str
    series: str
    release: str | None = None


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
    if name in DEBIAN_SERIES:
        return DebianSpec(text, name)
    match = _DEBIAN_RELEASE.match(name)
    if match is None or match.group(1) not in DEBIAN_SERIES:
        raise _unknown(text)
    return DebianSpec(text, match.group(1), name)


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
