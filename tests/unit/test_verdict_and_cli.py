"""Verdicts map to exit codes in one place; the CLI keeps errors to one line."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import BadInputError, ExitCode, GuestError, InfrastructureError, ParseError, exit_code_for
from harness.run.verdict import RunResult, Verdict


@pytest.mark.parametrize("exc, code", [
    (BadInputError("x"), 2), (ParseError("f", "x"), 2), (InfrastructureError("x"), 125),
    (GuestError("x"), 1), (RuntimeError("x"), 125)])
def test_exceptions_map_to_exit_codes(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code


@pytest.mark.parametrize("verdict, code", [(Verdict.PASS, 0), (Verdict.FAIL, 1),
                                           (Verdict.BAD_INPUT, 2), (Verdict.ERROR, 125)])
def test_verdicts_map_to_bisect_exit_codes(verdict: Verdict, code: int) -> None:
    assert verdict.exit_code == code


def test_result_passes_only_with_checks_all_ok() -> None:
    result = RunResult("s", "k")
    assert result.verdict is Verdict.FAIL  # no checks: nothing was shown
    result.add("a", 1, 1)
    assert result.verdict is Verdict.PASS
    result.add("b", "success", "failure")
    assert result.verdict is Verdict.FAIL and not result.to_json()["checks"][1]["ok"]


def test_run_with_bad_scenario_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[machine]\nnodez = 1\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == ExitCode.BAD_INPUT
    out = capsys.readouterr().out
    assert "machine.nodez: unknown key" in out or "machine.nodes" in out
    assert (tmp_path / "out" / "result.json").exists()


def test_bisect_turns_bad_input_into_abort(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("not toml [")
    assert main(["run", str(bad), "--bisect", "--out", str(tmp_path / "o")]) == 128


def test_parse_of_missing_log_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "/nonexistent/boot.log"]) == ExitCode.BAD_INPUT
    assert "/nonexistent/boot.log" in capsys.readouterr().err


def test_unknown_subcommand_is_usage_error() -> None:
    assert main(["frobnicate"]) == ExitCode.BAD_INPUT


def test_reservations_left_in_hotplug_ranges_are_named_with_callers() -> None:
    from harness.logparse import load_boot_log
    from harness.run.checks import reserved_in_hotplug_ranges

    log = load_boot_log(Path(__file__).parents[2] / "fixtures/logs/recorded/memhp-6.1-three-node-no-movable-node.log")
    assert reserved_in_hotplug_ranges(log) == [
        "node 2: [0x13b7d3000-0x13b7fdfff] NODE_DATA(2)",
        "node 2: [0x13b7fe000-0x13fffffff] alloc_low_pages, setup_log_buf"]
    result = RunResult("s", "k", info={"reserved_in_hotplug_ranges": reserved_in_hotplug_ranges(log)})
    assert "reserved in a hotpluggable range: node 2: [0x13b7fe000" in result.summary()
