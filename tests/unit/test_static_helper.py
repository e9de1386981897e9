"""memhp's guest helpers: built static, cached per source and compiler, failures named."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from harness.errors import InfrastructureError
from harness.guest import static_helper as sh


@pytest.mark.parametrize("compiler", sh.COMPILERS)
def test_each_compiler_builds_a_static_binary_once(compiler: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed (scripts/setup installs it)")
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path))
    binary = sh.static_helper("state", compiler)
    segments = {seg["p_type"] for seg in ELFFile(io.BytesIO(binary)).iter_segments()}
    assert "PT_LOAD" in segments and "PT_INTERP" not in segments  # the guest has no ld.so
    assert sh.static_helper("state", compiler) == binary
    assert [p.name.endswith(".lock") for p in sorted((tmp_path / "helpers").iterdir())] == [False, True]


def test_scripts_setup_installs_the_first_choice() -> None:
    # The guest image is ~650 KiB larger with glibc's static libc than with musl's.
    setup = (Path(__file__).resolve().parents[2] / "scripts" / "setup").read_text()
    assert "musl-tools" in setup and sh.COMPILERS[0] == "musl-gcc"


def test_no_compiler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InfrastructureError, match="scripts/setup"):
        sh.static_helper("state")


def test_a_failed_build_is_named_and_leaves_no_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path))
    with pytest.raises(InfrastructureError, match="building the state helper with false failed"):
        sh.static_helper("state", "false")
    assert not [p for p in (tmp_path / "helpers").iterdir() if not p.name.endswith(".lock")]
