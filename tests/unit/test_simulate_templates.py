"""simulate's shipped templates.json: equal to what the recorded logs give, read back exactly,
and a missing template is one clear line (exit 2)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.analysis import simulate_boot
from tools import templates
from harness.analysis.simulate_boot import find_template, template_from_log
from harness.cli import main
from harness.errors import BadInputError
from harness.logparse import load_boot_log
from kernels.profile import profile_for

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "three-node-movable.toml"
RECORDED = [("6.1", True, "qemu-6.1-three-node-movable-node.log"),
            ("6.1", False, "qemu-6.1-three-node.log"),
            ("6.12", True, "qemu-6.12-three-node-movable-node.log"),
            ("6.12", False, "qemu-6.12-three-node.log"),
            ("6.18", True, "qemu-6.18-three-node-movable-node.log"),
            ("6.18", False, "qemu-6.18-three-node.log"),
            ("7.2", False, "qemu-7.2-three-node.log"),
            ("7.3", True, "qemu-7.3-three-node-movable-node.log"),
            ("7.3", False, "qemu-7.3-three-node.log")]


def test_shipped_file_equals_what_the_recorded_logs_give() -> None:
    assert simulate_boot.TEMPLATES.read_text() == templates.render(templates.templates_from_logs()), (
        "templates.json is stale: run .venv/bin/python -m tools.templates")


@pytest.mark.parametrize(("version", "movable_node", "name"), RECORDED)
def test_find_template_reads_back_the_log_facts(version: str, movable_node: bool,
                                                name: str) -> None:
    from_log = template_from_log(load_boot_log(LOGS / name))
    assert find_template(profile_for(version).profile, movable_node) == dataclasses.replace(
        from_log, source=f"fixtures/logs/{name}")


def _ship(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: str) -> None:
    """A templates.json holding only the entries whose source names ``keep``."""
    data = json.loads(simulate_boot.TEMPLATES.read_text())
    data["templates"] = [e for e in data["templates"] if keep in e["template"]["source"]]
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(data))
    monkeypatch.setattr(simulate_boot, "TEMPLATES", path)


def test_other_direction_is_used_when_one_is_missing(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _ship(tmp_path, monkeypatch, "qemu-6.1-three-node-movable-node")
    assert find_template(profile_for("6.1").profile, False).page_table_allocs == 0  # the bottom-up boot's


def test_missing_version_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _ship(tmp_path, monkeypatch, "qemu-6.1-")
    with pytest.raises(BadInputError, match="no template for kernel 6.12"):
        find_template(profile_for("6.12").profile, True)
    assert main(["simulate", str(SCENARIO), "--kernel", "debian:6.12"]) == 2
    out = capsys.readouterr()
    message = (out.out + out.err).strip()
    assert "templates.json: no template for kernel 6.12" in message and "\n" not in message
    assert "Traceback" not in message


def test_kernel_older_than_every_profile_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(SCENARIO), "--kernel", "debian:5.10"]) == 2
    out = capsys.readouterr()
    message = (out.out + out.err).strip()
    assert "kernel 5.10 is older than every profile (oldest: 6.1)" in message and "\n" not in message


def test_kernel_between_profiles_is_modelled_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(SCENARIO), "--kernel", "debian:6.7"]) == 0
    assert "profile: kernel 6.7 has no profile of its own: modelled as 6.1" in capsys.readouterr().out


def test_regenerate_command_writes_the_shipped_text(tmp_path: Path) -> None:
    out = tmp_path / "templates.json"
    assert templates.main([str(out)]) == 0
    assert out.read_text() == simulate_boot.TEMPLATES.read_text()


def test_regenerate_without_logs_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(templates, "LOGS", tmp_path)
    out = tmp_path / "templates.json"
    assert templates.main([str(out)]) == 2
    assert f"{tmp_path}: no qemu-6.1-three-node*.log" in capsys.readouterr().err
    assert not out.exists()
