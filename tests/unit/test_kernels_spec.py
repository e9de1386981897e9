"""Kernel SPEC parsing and companion discovery."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import BadInputError
from kernels.spec import DebianSpec, LocalSpec, Pick, parse_spec


@pytest.mark.parametrize(("text", "pick", "value", "series"), [
    ("debian:6.1", Pick.SERIES, "6.1", "6.1"),
    ("debian:7.3", Pick.SERIES, "7.3", "7.3"),
    ("", Pick.SERIES, "6.1", "6.1"),
    ("debian:6.12.118", Pick.PATCH, "6.12.118", "6.12"),
    ("debian:6.1.0-47-amd64", Pick.RELEASE, "6.1.0-47-amd64", "6.1"),
    ("debian:6.12.117+deb12-amd64", Pick.RELEASE, "6.12.117+deb12-amd64", "6.12"),
    ("debian:6.12.90+deb12.1-amd64", Pick.RELEASE, "6.12.90+deb12.1-amd64", "6.12"),
    ("debian:7.3.4+deb13-amd64", Pick.RELEASE, "7.3.4+deb13-amd64", "7.3"),
    ("debian:lts", Pick.LTS, "", None),
    ("debian:latest", Pick.LATEST, "", None),
])
def test_debian_forms(text: str, pick: Pick, value: str, series: str | None) -> None:
    spec = parse_spec(text)
    assert isinstance(spec, DebianSpec)
    assert (spec.pick, spec.value, spec.series) == (pick, value, series)


@pytest.mark.parametrize("text", ["debian:6", "debian:6.1.0-47-arm64", "debian:7.3.4+deb13-cloud-amd64",
                                  "linux-6.1", "debian:", "debian:LTS", "debian:6.1.x"])
def test_unknown_spec_lists_valid_forms(text: str) -> None:
    with pytest.raises(BadInputError) as info:
        parse_spec(text)
    message = str(info.value)
    assert message.startswith(f"unknown kernel spec {text!r}")
    for form in ("debian:SERIES", "debian:SERIES.PATCH", "debian:RELEASE", "debian:lts", "debian:latest", "bzImage"):
        assert form in message


NUM = st.integers(min_value=0, max_value=999).map(str)


@given(major=NUM, minor=NUM, patch=NUM, abi=st.none() | NUM, deb=st.none() | st.sampled_from(["+deb12", "+deb13.1"]))
def test_every_debian_release_form_parses_to_its_series(major: str, minor: str, patch: str, abi: str | None,
                                                        deb: str | None) -> None:
    release = f"{major}.{minor}.{patch}" + (f"-{abi}" if abi else "") + (deb or "") + "-amd64"
    spec = parse_spec(f"debian:{release}")
    assert isinstance(spec, DebianSpec)
    assert (spec.pick, spec.value, spec.series, spec.text) == (Pick.RELEASE, release, f"{major}.{minor}",
                                                               f"debian:{release}")
    patch_spec = parse_spec(f"debian:{major}.{minor}.{patch}")
    series_spec = parse_spec(f"debian:{major}.{minor}")
    assert isinstance(patch_spec, DebianSpec) and isinstance(series_spec, DebianSpec)
    assert (patch_spec.pick, series_spec.pick) == (Pick.PATCH, Pick.SERIES)
    assert patch_spec.series == series_spec.series == f"{major}.{minor}"


@given(name=st.text(max_size=40))
def test_any_debian_name_parses_or_is_bad_input(name: str) -> None:
    try:
        spec = parse_spec(f"debian:{name}")
    except BadInputError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(spec, DebianSpec) and spec.text == f"debian:{name}".strip()


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
