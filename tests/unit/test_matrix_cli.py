"""``memhp matrix`` / ``memhp history`` dispatch, and the matrix exit code."""
from __future__ import annotations

from pathlib import Path

import pytest
from report_data import record, result

from harness.cli import main
from harness.errors import ExitCode
from harness.lab.history import History
from harness.run.verdict import Verdict


@pytest.mark.parametrize(("verdicts", "code"), [
    ((Verdict.PASS, Verdict.PASS), ExitCode.PASS),
    ((Verdict.PASS, Verdict.ERROR), ExitCode.CANNOT_TEST),
    ((Verdict.BAD_INPUT, Verdict.ERROR), ExitCode.BAD_INPUT),
    ((Verdict.FAIL, Verdict.ERROR), ExitCode.FAIL),
])
def test_matrix_exit_code(verdicts: tuple[Verdict, ...], code: ExitCode) -> None:
    res = result(tuple(record(f"s{i}@k+default", v) for i, v in enumerate(verdicts)))
    assert res.exit_code is code


def test_bad_matrix_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.toml"
    path.write_text('kernels = ["debian:6.1"]\nscenarios = ["none/*.toml"]\n')
    assert main(["matrix", str(path), "--out", str(tmp_path / "out")]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip() == f"memhp: {path}: scenarios: 'none/*.toml' matches no file"


def test_history_prints_the_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    with History(db) as history:
        history.record(result((record("a@debian-6.1+default", Verdict.FAIL),)))
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "a [default]: 6.1.0-56-amd64 (last good: none)" in out
    assert main(["history", "--db", str(tmp_path / "none.sqlite")]) == ExitCode.BAD_INPUT
