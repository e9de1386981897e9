"""``--qemu PATH``: a private QEMU tree runs with its own data files and modules."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.qemu.binary import QEMU_BINARY
from harness.qemu.resolve import resolve_qemu


def _tree(root: Path, modules: bool = True) -> Path:
    binary = root / "usr/bin" / QEMU_BINARY
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (root / "usr/share/qemu").mkdir(parents=True)
    if modules:
        (root / "usr/lib/x86_64-linux-gnu/qemu").mkdir(parents=True)
    return binary


def test_system_is_the_binary_on_path_with_nothing_added() -> None:
    qemu = resolve_qemu("system")
    assert qemu.argv() == [QEMU_BINARY] and qemu.env() is None


@pytest.mark.parametrize("given", ["root", "binary"])
def test_a_private_tree_gets_its_data_and_modules(tmp_path: Path, given: str) -> None:
    binary = _tree(tmp_path / "q")
    qemu = resolve_qemu(str(tmp_path / "q" if given == "root" else binary))
    assert qemu.argv() == [str(binary), "-L", str(tmp_path / "q/usr/share/qemu")]
    env = qemu.env()
    assert env is not None and env["QEMU_MODULE_DIR"] == str(tmp_path / "q/usr/lib/x86_64-linux-gnu/qemu")


def test_a_tree_without_modules_still_keeps_the_host_s_modules_away(tmp_path: Path) -> None:
    _tree(tmp_path / "q", modules=False)
    env = resolve_qemu(str(tmp_path / "q")).env()
    assert env is not None and env["QEMU_MODULE_DIR"] == str(tmp_path / "q/usr/lib/x86_64-linux-gnu/qemu")


def test_the_host_s_own_binary_by_path_runs_as_the_system_s() -> None:
    """/usr/bin/qemu… (scripts/setup installs it) is no private tree: no -L to the host's data."""
    qemu = resolve_qemu("/usr/bin/" + QEMU_BINARY)
    assert qemu.argv() == ["/usr/bin/" + QEMU_BINARY] and qemu.env() is None


def test_no_qemu_there_is_one_line_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"^--qemu: .*nowhere: no executable QEMU there"):
        resolve_qemu(str(tmp_path / "nowhere"))
