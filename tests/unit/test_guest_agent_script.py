"""The guest agent script itself, run by busybox sh on the host with a pipe for its tty."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "harness" / "guest" / "agent.sh"
BUSYBOX = shutil.which("busybox")


def _talk(requests: str) -> list[str]:
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    proc = subprocess.run([BUSYBOX, "sh", str(AGENT)], input=requests, capture_output=True,
                          text=True, timeout=20, check=False)
    return [line for line in proc.stdout.splitlines() if line]


def test_framed_reply_with_status() -> None:
    lines = _talk("1 ping 1\n2 nosuchverb 2\n")
    assert lines[0].startswith("@@MEMHP-READY")
    assert lines[1:4] == ["@@BEGIN 1", "pong", "@@END 1 0"]
    assert lines[4] == "@@BEGIN 2" and lines[-1] == "@@END 2 1"


@pytest.mark.parametrize("damaged", ["nfo", "8 zoneinfo 18", "3 ping", "* ping *", ""])
def test_damaged_request_is_reported_not_run(damaged: str) -> None:
    lines = _talk(f"{damaged}\n4 ping 4\n")
    if damaged:
        assert lines[1] == f"@@GARBLED {damaged}"
    assert lines[-3:] == ["@@BEGIN 4", "pong", "@@END 4 0"]
    assert "pong" not in lines[1:-3]
