"""Kernel SPEC parsing and companion discovery."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import BadInputError
from kernels.spec import DebianSpec, LocalSpec, parse_spec


@pytest.mark.parametrize(("text", "series", "release"), [
    ("debian:6.1", "6.1", None),
    ("debian:6.12", "6.12", None),
    ("", "6.1", None),
    ("debian:6.1.0-47-amd64", "6.1", "6.1.0-47-amd64"),
    ("debian:6.12.117+deb12-amd64", "6.12", "6.12.117+deb12-amd64"),
])
def test_debian_forms(text: str, series: str, release: str | None) -> None:
    spec = parse_spec(text)
    assert isinstance(spec, DebianSpec)
    assert (spec.series, spec.release) == (series, release)


@pytest.mark.parametrize("text", ["debian:5.10", "debian:6.1.0-47-arm64", "linux-6.1", "debian:"])
def test_unknown_spec_lists_valid_forms(text: str) -> None:
    with pytest.raises(BadInputError) as info:
        parse_spec(text)
    message = str(info.value)
    assert message.startswith(f"unknown kernel spec {text!r}")
    for form in ("debian:6.1 (default)", "debian:6.12", "debian:<release>", "bzImage"):
        assert form in message


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_build_tree_companions(tmp_path: Path) -> None:
    image = _touch(tmp_path / "linux" / "arch" / "x86" / "boot" / "bzImage")
    for name in ("vmlinux", "System.map", ".config"):
        _touch(tmp_path / "linux" / name)
    spec = parse_spec(str(image))
    assert isinstance(spec, LocalSpec)
    root = tmp_path / "linux"
    assert (spec.vmlinux, spec.system_map, spec.config) == (root / "vmlinux", root / "System.map",
                                                            root / ".config")


def test_boot_style_companions(tmp_path: Path) -> None:
    image = _touch(tmp_path / "vmlinuz-6.1.0-9-amd64")
    _touch(tmp_path / "config-6.1.0-9-amd64")
    _touch(tmp_path / "System.map-6.1.0-9-amd64")
    spec = parse_spec(str(image))
    assert isinstance(spec, LocalSpec)
    assert spec.config == tmp_path / "config-6.1.0-9-amd64"
    assert spec.system_map == tmp_path / "System.map-6.1.0-9-amd64"
    assert spec.vmlinux is None


def test_explicit_companions_win(tmp_path: Path) -> None:
    image = _touch(tmp_path / "tree" / "arch" / "x86" / "boot" / "bzImage")
    _touch(tmp_path / "tree" / ".config")
    other = _touch(tmp_path / "elsewhere.config")
    spec = parse_spec(f"{image},config={other}")
    assert isinstance(spec, LocalSpec)
    assert spec.config == other
    assert spec.system_map is None


def test_missing_image_and_bad_companion_key(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="bzImage .*nope is not a file"):
        parse_spec(str(tmp_path / "nope"))
    image = _touch(tmp_path / "bzImage")
    with pytest.raises(BadInputError, match="'initrd=x' is not one of system_map=PATH"):
        parse_spec(f"{image},initrd=x")
    with pytest.raises(BadInputError, match="config .*absent is not a file"):
        parse_spec(f"{image},config={tmp_path / 'absent'}")
