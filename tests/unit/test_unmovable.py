"""The unmovable helper's report, from a real 6.1 guest at MOVABLE:KERNEL 1:1 (its stdout
and the kernel's OOM-kill line kept in fixtures/unmovable/), and the helper's build."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.guest.command import CommandResult
from harness.guest.unmovable import helper_files, measurement, samples
from harness.logparse.parser import parse_boot_log
from harness.scenario.schema import Unmovable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "unmovable"
OUT = (FIXTURES / "page-tables-6.1-1to1.out").read_bytes()
ACTION = Unmovable(id="pt", do="unmovable", consume="page_tables")


def _result(stdout: bytes, status: int = 137, timed_out: bool = False) -> CommandResult:
    return CommandResult(("unmovable", "page_tables"), status, timed_out, 5.0, stdout, b"",
                         len(stdout), 0)


def _kills() -> tuple:
    return parse_boot_log((FIXTURES / "page-tables-6.1-1to1.oom.txt").read_text(), "oom").oom_kills


def test_oom_kill_line_is_parsed() -> None:
    (kill,) = _kills()
    assert (kill.comm, kill.pgtables_kb) == ("unmovable", 291300)


def test_obtained_is_growth_to_the_last_line_before_the_oom_kill() -> None:
    seen = samples(OUT.decode())
    assert seen[0].what == "start" and seen[-1].what == "progress" and len(seen) == 72
    found = measurement(ACTION, _result(OUT), _kills())
    assert found is not None
    assert found["obtained_kb"] == seen[-1].page_tables_kb - seen[0].page_tables_kb == 287380 - 92
    assert (found["free_movable_kb"], found["free_kernel_kb"]) == (521064, 5936)
    assert found["ended"] == "OOM killer (its pgtables: 291300 KiB)"


def test_an_end_without_oom_line_or_a_timeout_is_said_so() -> None:
    assert measurement(ACTION, _result(OUT), ())["ended"] == "exit status 137"  # type: ignore[index]
    assert measurement(ACTION, _result(OUT, timed_out=True), _kills())["ended"] == "timed out"  # type: ignore[index]
    refused = OUT + b"end refused open errno=28 count=9 page_tables_kb=1 slab_kb=2 free_movable_kb=3 free_kernel_kb=4\n"
    assert measurement(ACTION, _result(refused, 0), ())["ended"] == "end refused open errno=28"  # type: ignore[index]
    assert measurement(ACTION, _result(OUT.splitlines(keepends=True)[0]), ()) is None


def test_helper_builds_static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path))
    (entry,) = helper_files()
    assert entry.dest == "/opt/memhp-helpers/unmovable" and entry.mode == 0o755
    assert entry.data[:4] == b"\x7fELF" and b"ld-linux" not in entry.data  # no interpreter
    assert helper_files() == (entry,) and len(list((tmp_path / "helpers").glob("unmovable-*"))) == 2
