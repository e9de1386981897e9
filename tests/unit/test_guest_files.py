"""``[[files]]``: user files reach the initramfs with their modes, and change its cache key."""
from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.guest.initramfs import BUSYBOX, base_initramfs
from harness.scenario.guest_files import GuestFile
from harness.scenario.schema import load_scenario

BASE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "two-node-user-script.toml"


def _listing(image: Path) -> dict[str, str]:
    """cpio -tv: guest path → its mode string (``-rwxr-xr-x``)."""
    out = subprocess.run(["cpio", "-tv", "--quiet"], input=gzip.decompress(image.read_bytes()),
                         capture_output=True, check=True).stdout.decode()
    return {line.split()[-1]: line.split()[0] for line in out.splitlines()}


def _scenario(tmp_path: Path, files: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f'extends = "{BASE}"\nname = "s"\n{files}')
    return path


def test_source_is_relative_to_the_file_that_names_it() -> None:
    scenario = load_scenario(BASE.parent / "must-fail" / "two-node-user-script-claims-script-fails.toml")
    assert scenario.files[0].source == BASE.parent / "files" / "node-movable.sh"


@pytest.mark.parametrize(("entry", "message"), [
    ('source = "nope.sh"\ndest = "/opt/x"', "files[0].source: no such file or folder"),
    ('source = "s.toml"\ndest = "/init"', "files[0].dest: /init: memhp's own image"),
    ('source = "s.toml"\ndest = "/bin/sh"', "files[0].dest: /bin/sh: memhp's own image"),
    ('source = "s.toml"\ndest = "/opt/../init"', "files[0].dest: /opt/../init: no . or .."),
    ('source = "s.toml"\ndest = "opt/x"', "files[0].dest: String should match pattern"),
    ('source = "s.toml"\ndest = "/opt/x"\nmode = 0o17777', "files[0].mode: Input should be less"),
])
def test_bad_file_entries_are_one_line_naming_the_key(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(BadInputError) as err:
        load_scenario(_scenario(tmp_path, f"[[files]]\n{entry}\n"))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static not installed")
def test_files_and_folders_go_in_with_their_modes_and_key_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    tool = tmp_path / "tool"
    tool.write_bytes(b"\x7fELF...")
    folder = tmp_path / "suite"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (folder / "sub" / "run.sh").chmod(0o750)
    (folder / "data.txt").write_text("x")
    (folder / "data.txt").chmod(0o600)
    files = (GuestFile(source=tool, dest="/opt/tool", mode=0o755),
             GuestFile(source=folder, dest="/opt/suite"))
    image = base_initramfs(files)
    modes = _listing(image)
    assert modes["opt/tool"] == "-rwxr-xr-x"
    assert modes["opt/suite/sub/run.sh"] == "-rwxr-x---" and modes["opt/suite/data.txt"] == "-rw-------"
    assert {"init", "agent.sh", "bin/busybox"} <= set(modes)
    plain = base_initramfs()
    assert "opt/tool" not in _listing(plain) and plain != image
    other_mode = base_initramfs((GuestFile(source=tool, dest="/opt/tool", mode=0o700), files[1]))
    assert other_mode not in (image, plain)
    tool.write_bytes(b"\x7fELF changed")
    assert base_initramfs(files) not in (image, plain, other_mode)


def test_one_guest_path_twice_is_bad_input(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("x")
    with pytest.raises(BadInputError, match="/opt/tool is given twice"):
        base_initramfs((GuestFile(source=tool, dest="/opt/tool"), GuestFile(source=tool, dest="/opt/tool")))
