"""The agent's ``run`` verb, run by busybox sh on the host: argv arrives as data, the
status, both streams and a timeout come back through the real reply parser."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.errors import GuestError
from harness.guest.agent import AgentReply
from harness.guest.command import CommandResult, encode_argv, parse_reply

AGENT = Path(__file__).resolve().parents[2] / "harness" / "guest" / "agent.sh"
BUSYBOX = shutil.which("busybox")


def _run(tmp_path: Path, argv: list[str], timeout: int = 10, limit: int = 4096) -> CommandResult:
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    request = " ".join(["7", "run", str(timeout), str(limit), *encode_argv(argv), "7"]) + "\n"
    proc = subprocess.run([BUSYBOX, "sh", str(AGENT)], input=request, capture_output=True,
                          text=True, timeout=timeout + 20, check=False,
                          env=dict(os.environ, TMPDIR=str(tmp_path)))
    lines = proc.stdout.splitlines()
    begin, end = lines.index("@@BEGIN 7"), next(i for i, l in enumerate(lines) if l.startswith("@@END 7 "))
    return parse_reply(argv, AgentReply("run", int(lines[end].split()[-1]), tuple(lines[begin + 1:end])))


def test_status_and_both_streams(tmp_path: Path) -> None:
    res = _run(tmp_path, ["sh", "-c", 'echo out; echo "@@END 7 0"; echo err >&2; exit 3'])
    assert res.status == 3 and not res.timed_out and not res.ok
    assert res.stdout == b"out\n@@END 7 0\n" and res.stderr == b"err\n"
    assert (res.stdout_size, res.stderr_size) == (len(res.stdout), 4) and not res.truncated


def test_argv_words_reach_the_program_unparsed(tmp_path: Path) -> None:
    words = ["a b", "$(touch pwned)", "*", "", "'\"", "tab\there", "trail\n\n", "ünï"]
    res = _run(tmp_path, ["sh", "-c", 'for a in "$@"; do printf "[%s]" "$a"; done', "sh", *words])
    assert res.ok, res.stderr
    assert res.stdout.decode() == "".join(f"[{w}]" for w in words)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_agent_functions_and_builtins_are_not_reachable(tmp_path: Path) -> None:
    # "blocks" is an agent function, "setting" too: exec looks only at PATH
    res = _run(tmp_path, ["setting", "auto_online_blocks", "online"])
    assert res.status == 127 and res.stdout == b""


def test_hung_command_is_killed_with_its_output_so_far(tmp_path: Path) -> None:
    res = _run(tmp_path, ["sh", "-c", "echo started; exec sleep 30"], timeout=1)
    assert res.timed_out and res.stdout == b"started\n" and res.status == 128 + 9
    assert "killed after the timeout" in res.describe()


def test_output_beyond_the_limit_is_cut_and_says_so(tmp_path: Path) -> None:
    res = _run(tmp_path, ["sh", "-c", "yes | head -c 10000"], limit=1000)
    assert res.ok and len(res.stdout) == 1000 and res.stdout_size == 10000 and res.truncated


def test_program_exiting_by_itself_is_not_a_timeout(tmp_path: Path) -> None:
    res = _run(tmp_path, ["sh", "-c", "kill -KILL $$"])
    assert res.status == 137 and not res.timed_out


@pytest.mark.parametrize("argv", [[], [""], ["a\0b"], ["x" * 2000]])
def test_argv_the_protocol_cannot_carry_is_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        encode_argv(argv)


def test_malformed_reply_is_a_guest_error() -> None:
    with pytest.raises(GuestError, match="malformed"):
        parse_reply(["x"], AgentReply("run", 0, ("status 0",)))
