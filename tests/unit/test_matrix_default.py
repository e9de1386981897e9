"""``memhp matrix`` without a file: the checkout's nightly matrix, or, where there is none
(an installed wheel), one line saying where it is to be had (exit 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ExitCode
from harness.lab import matrix
from harness.lab.spec import load_matrix


def test_checkout_default_is_the_nightly_matrix() -> None:
    assert matrix.default_matrix() == matrix.DEFAULT_MATRIX
    assert load_matrix(matrix.default_matrix()).name == "nightly"


def test_no_default_outside_a_checkout_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "site-packages" / "fixtures" / "matrix" / "nightly.toml"
    monkeypatch.setattr(matrix, "DEFAULT_MATRIX", missing)
    assert main(["matrix", "--out", str(tmp_path / "out")]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("memhp: matrix: no matrix file given")
    assert f"(not at {missing})" in err and "CHECKOUT/fixtures/matrix/nightly.toml" in err
    assert not (tmp_path / "out").exists()
