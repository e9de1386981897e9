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


def test_blocks_skips_a_block_removed_while_it_is_listed(tmp_path: Path) -> None:
    """virtio-mem removes memory blocks while the agent lists them: a vanished block's
    files give no line at all, never the shell's "can't open" in the reply."""
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    mem = tmp_path / "memory"
    (mem / "memory32").mkdir(parents=True)
    for name, value in (("state", "online"), ("phys_index", "00000020"), ("valid_zones", "Normal")):
        (mem / "memory32" / name).write_text(value + "\n")
    (mem / "memory33").mkdir()  # its files already gone
    script = AGENT.read_text().replace("MEM=/sys/devices/system/memory", f"MEM={mem}")
    # stderr joins stdout, as the guest's init gives the agent one tty for both.
    proc = subprocess.run([BUSYBOX, "sh", "-c", script], input="1 blocks 1\n", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=20, check=False)
    lines = [line for line in proc.stdout.splitlines() if line and not line.startswith("@@MEMHP")]
    assert lines == ["@@BEGIN 1", "32 online 00000020 none Normal", "@@END 1 0"], proc.stdout
