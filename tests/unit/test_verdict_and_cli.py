"""Verdicts map to exit codes in one place; the CLI keeps errors to one line."""
from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import acpi_tables
import debarchive
import harness
import kernels
from harness import errors
from debarchive import ArchiveUnreachable, NotInArchive, VerificationError
from harness.cli import main
from harness.errors import (
    BadInputError,
    ExitCode,
    GuestError,
    InfrastructureError,
    MemhpError,
    ParseError,
    exit_code_for,
    overall,
)
from harness.guest.agent import GuestGone
from harness.qemu.machine import QemuLaunchError
from harness.run.artifact_io import ArtifactWriteError
from harness.run.artifacts import NO_INFO
from harness.run.runner import UnrecordedRun, error_result
from harness.run.verdict import RunResult, Verdict

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"

# The whole mapping: every error class there is → (exit code, verdict of the run it ends).
ERRORS: list[tuple[BaseException, ExitCode, Verdict | None]] = [
    (BadInputError("x"), ExitCode.BAD_INPUT, Verdict.BAD_INPUT),
    (ParseError("f", "x"), ExitCode.BAD_INPUT, Verdict.BAD_INPUT),
    (InfrastructureError("x"), ExitCode.CANNOT_TEST, Verdict.ERROR),
    (QemuLaunchError("x", [], 1, ""), ExitCode.CANNOT_TEST, Verdict.ERROR),
    (ArtifactWriteError((Path("m.json"),), "full"), ExitCode.CANNOT_TEST, Verdict.ERROR),
    (UnrecordedRun([ArtifactWriteError((Path("m.json"),), "full")], RunResult("s", "k")),
     ExitCode.CANNOT_TEST, Verdict.ERROR),
    (VerificationError("x"), ExitCode.CANNOT_TEST, Verdict.ERROR),
    (ArchiveUnreachable("x"), ExitCode.CANNOT_TEST, Verdict.ERROR),
    (NotInArchive("x"), ExitCode.CANNOT_TEST, Verdict.ERROR),
    (GuestError("x"), ExitCode.FAIL, Verdict.FAIL),
    (GuestGone("x"), ExitCode.FAIL, Verdict.FAIL),
    (RuntimeError("x"), ExitCode.CANNOT_TEST, None),  # a harness bug: could not test
    (KeyboardInterrupt(), ExitCode.INTERRUPTED, None),  # never wrapped
]


@pytest.mark.parametrize("exc, code, verdict", ERRORS, ids=lambda v: type(v).__name__)
def test_exceptions_map_to_exit_codes_and_verdicts(exc: BaseException, code: ExitCode,
                                                   verdict: Verdict | None) -> None:
    assert exit_code_for(exc) == code
    if isinstance(exc, MemhpError):
        result = error_result("s", "k", exc)
        assert result.verdict is verdict and result.verdict.exit_code == code
        assert result.artifact().exit_code == code


def test_the_mapping_covers_every_error_class_and_the_tree_lists_them() -> None:
    for package in (harness, acpi_tables, kernels, debarchive):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(info.name)
    classes, todo = set(), [MemhpError]
    while todo:
        cls = todo.pop()
        classes.add(cls)
        todo += cls.__subclasses__()
    assert {type(e) for e, _, _ in ERRORS} >= classes - {MemhpError}
    listed = re.findall(r"[├└]── (\w+)", errors.__doc__ or "")
    assert sorted(listed) == sorted(c.__name__ for c in classes - {MemhpError})


@pytest.mark.parametrize("verdict, code", [(Verdict.PASS, 0), (Verdict.FAIL, 1),
                                           (Verdict.BAD_INPUT, 2), (Verdict.ERROR, 125)])
def test_verdicts_map_to_bisect_exit_codes(verdict: Verdict, code: int) -> None:
    assert verdict.exit_code == code


@pytest.mark.parametrize("code, under_bisect", [(0, 0), (1, 1), (2, 128), (125, 125)])
def test_bisect_turns_bad_input_into_128_and_nothing_else(code: int, under_bisect: int) -> None:
    assert ExitCode(code).under_bisect() == under_bisect


def test_many_outcomes_a_wrong_verdict_beats_bad_input_beats_cannot_test() -> None:
    P, F, B, C = ExitCode.PASS, ExitCode.FAIL, ExitCode.BAD_INPUT, ExitCode.CANNOT_TEST
    assert [overall(codes) for codes in ([], [P, P], [P, C], [C, B], [B, F, C])] == [P, P, C, B, F]


def test_result_passes_only_with_checks_all_ok() -> None:
    result = RunResult("s", "k")
    assert result.verdict is Verdict.FAIL  # no checks: nothing was shown
    result.add("a", "1", "1")
    assert result.verdict is Verdict.PASS
    result.add("b", "success", "failure")
    assert result.verdict is Verdict.FAIL and not result.artifact().checks[1].ok


@pytest.mark.parametrize(("machine", "error"), [
    ('nodez = 1\nnodes = [{ memory = "1G", cpus = [0] }]\n', "bad.toml: machine.nodez: unknown key"),
    ("nodez = 1\n", "bad.toml: machine.nodes: Field required"),
], ids=["typo", "missing"])
def test_run_with_bad_scenario_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     machine: str, error: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'name = "bad"\n[machine]\n{machine}')
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == ExitCode.BAD_INPUT
    errors = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("error:")]
    assert len(errors) == 1 and errors[0] == f"  error: {tmp_path}/{error}"
    assert (tmp_path / "out" / "result.json").exists()


def test_bisect_turns_bad_input_into_abort(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("not toml [")
    assert main(["run", str(bad), "--bisect", "--out", str(tmp_path / "o")]) == 128


def test_out_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    for extra, code in (([], 2), (["--bisect"], 128)):
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run",
                               str(SCENARIOS / "three-node-movable.toml"), "--out", str(taken), *extra],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == code, proc.stderr
        assert proc.stderr.splitlines() == [f"memhp: {taken}: exists and is not a folder "
                                            "(the run's artifact folder)"]
    assert taken.read_text() == "not a folder"


def test_matrix_out_that_is_a_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    matrix = tmp_path / "m.toml"
    matrix.write_text(f'kernels = ["debian:6.1"]\nscenarios = ["{SCENARIOS}/three-node-movable.toml"]\n')
    assert main(["matrix", str(matrix), "--out", str(taken), "--db", str(tmp_path / "h.sqlite")]) == 2
    assert f"{taken}/runs: cannot create the artifact folder" in capsys.readouterr().err


def test_parse_of_missing_log_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "/nonexistent/boot.log"]) == ExitCode.BAD_INPUT
    assert "/nonexistent/boot.log" in capsys.readouterr().err


def test_unknown_subcommand_is_usage_error() -> None:
    assert main(["frobnicate"]) == ExitCode.BAD_INPUT


def test_reservations_left_in_hotplug_ranges_are_named_with_callers() -> None:
    from harness.logparse import load_boot_log
    from harness.run.checks import BootFacts, reserved_in_hotplug_ranges

    log = load_boot_log(Path(__file__).parents[2] / "fixtures/logs/recorded/memhp-6.1-three-node-no-movable-node.log")
    listed = reserved_in_hotplug_ranges(BootFacts.of(log))
    assert listed == (
        "node 2: [0x13b7d3000-0x13b7fdfff] NODE_DATA(2)",
        "node 2: [0x13b7fe000-0x13fffffff] alloc_low_pages, setup_log_buf")
    result = RunResult("s", "k", info=replace(NO_INFO, reserved_in_hotplug_ranges=listed))
    assert "reserved in a hotpluggable range: node 2: [0x13b7fe000" in result.summary()


def test_summary_marks_model_checks_once() -> None:
    """The model's checks read "model ok   ZONE_MOVABLE …", not "model ok   model agrees: …"."""
    result = RunResult("s", "debian:6.1", "6.1.0-57-amd64")
    result.add("ZONE_MOVABLE of node 2 starts at", "0x140000000", "0x140000000")
    result.add_model("model agrees: ZONE_MOVABLE of node 2", "0x140000000", "0x140000000")
    result.add_model("model agrees: action remove-hot0", "success", "failure")
    lines = result.summary().splitlines()
    assert lines[2] == "  model ok   ZONE_MOVABLE of node 2: 0x140000000"
    assert lines[3] == "  model DIFF action remove-hot0: failure (predicted: success)"
