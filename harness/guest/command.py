"""A program run in the guest: argv sent as data, its status and output brought back.

The agent's ``run`` verb takes ``TIMEOUT LIMIT xHEX…``: each argv word goes hex encoded (the
protocol's words are ``[A-Za-z0-9_.-]``), so no text from a scenario or a test is ever parsed
by a shell, on the host or in the guest (agent.sh ``exec``s the decoded words). The reply
is ``status N timed_out 0|1 uptime T0 T1``, ``out_size``/``err_size`` and the first LIMIT
bytes of each stream as base64 lines.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import GuestError
from harness.guest.agent import AgentReply
from harness.guest.selftest_tap import TapTest

OUTPUT_LIMIT = 256 * 1024  # per stream: what comes back over the serial line
REQUEST_LIMIT = 3000  # bytes of hex argv: a request line must fit the guest tty's buffer
REPLY_MARGIN = 30.0  # seconds the host waits beyond the guest's own timeout


@dataclass(frozen=True)
class CommandResult:
    """One guest command. ``status`` is the guest shell's ``$?``: 128+N when signal N
    killed it, 127 when the program was not found; ``timed_out`` when memhp killed it."""

    argv: tuple[str, ...]
    status: int
    timed_out: bool
    seconds: float  # guest uptime from start to end: the guest's clock, not the host's
    stdout: bytes
    stderr: bytes
    stdout_size: int  # the whole stream's size; above OUTPUT_LIMIT only the start came back
    stderr_size: int

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out

    @property
    def truncated(self) -> bool:
        return self.stdout_size > len(self.stdout) or self.stderr_size > len(self.stderr)

    def describe(self) -> str:
        name = " ".join(self.argv)
        if self.timed_out:
            return f"{name}: killed after the timeout ({self.seconds:.1f} s), output so far kept"
        return f"{name}: exit status {self.status} after {self.seconds:.1f} s"

    def last_line(self) -> str:
        """What a failing program said last: stderr's last line, else stdout's."""
        return next(iter(_tail(self.stderr, 1) or _tail(self.stdout, 1)), "")

    def record(self, stdout_file: str, stderr_file: str) -> CommandRecord:
        """What a run action keeps of it, the whole streams being in the two files."""
        return CommandRecord(argv=self.argv, status=self.status, timed_out=self.timed_out,
                             seconds=round(self.seconds, 3), stdout_size=self.stdout_size,
                             stderr_size=self.stderr_size, truncated=self.truncated,
                             stdout_tail=tuple(_tail(self.stdout)), stderr_tail=tuple(_tail(self.stderr)),
                             stdout_file=stdout_file, stderr_file=stderr_file)


@dataclass(frozen=True, kw_only=True)
class CommandRecord:
    """A run action's command as model.json keeps it (``CommandResult.to_json``); the
    whole streams are in the files named by ``stdout_file``/``stderr_file``."""

    argv: tuple[str, ...]
    status: int
    timed_out: bool
    seconds: float
    stdout_size: int
    stderr_size: int
    truncated: bool
    stdout_tail: tuple[str, ...]
    stderr_tail: tuple[str, ...]
    stdout_file: str | None = None
    stderr_file: str | None = None
    tap_file: str | None = None  # selftest actions: their TAP, also in ``tap``
    tap: tuple[TapTest, ...] = ()
    measurement: dict[str, str | int] | None = None  # unmovable actions (guest.unmovable)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "argv": list(self.argv), "status": self.status, "timed_out": self.timed_out,
            "seconds": self.seconds, "stdout_size": self.stdout_size, "stderr_size": self.stderr_size,
            "truncated": self.truncated, "stdout_tail": list(self.stdout_tail),
            "stderr_tail": list(self.stderr_tail), "stdout_file": self.stdout_file,
            "stderr_file": self.stderr_file}
        if self.tap_file is not None:
            out["tap_file"] = self.tap_file
            out["tap"] = [{"name": t.name, "ok": t.ok, "directive": t.directive} for t in self.tap]
        if self.measurement is not None:
            out["measurement"] = dict(self.measurement)
        return out


def _tail(data: bytes, lines: int = 20) -> list[str]:
    return data.decode(errors="replace").splitlines()[-lines:]


def encode_argv(argv: Sequence[str]) -> list[str]:
    """The protocol words for ``argv``; ValueError for what exec cannot take or the line
    cannot carry."""
    if not argv or not argv[0]:
        raise ValueError("a guest command needs a program (argv[0])")
    words = []
    for arg in argv:
        if "\0" in arg:
            raise ValueError(f"argv word {arg!r} contains a NUL byte, which exec cannot pass")
        words.append("x" + arg.encode().hex())
    if sum(len(w) + 1 for w in words) > REQUEST_LIMIT:
        raise ValueError(f"argv is {sum(len(a.encode()) for a in argv)} bytes; the guest "
                         f"channel takes about {REQUEST_LIMIT // 2}: put long input in a file")
    return words


def parse_reply(argv: Sequence[str], reply: AgentReply) -> CommandResult:
    fields: dict[str, list[str]] = {}
    chunks: dict[str, list[str]] = {"out": [], "err": []}
    for line in reply.lines:
        key, _, rest = line.partition(" ")
        if key in chunks:
            chunks[key].append(rest.strip())
        else:
            fields[key] = rest.split()
    try:
        status, timed = fields["status"][0], fields["status"][2]
        t0, t1 = (float(v) for v in fields["status"][4:6])
        streams = {k: base64.b64decode("".join(v), validate=True) for k, v in chunks.items()}
        sizes = {k: int(fields[f"{k}_size"][0]) for k in chunks}
    except (KeyError, IndexError, ValueError, binascii.Error) as err:
        raise GuestError(f"agent run: malformed reply ({err!r}): {reply.text[:200]}") from err
    return CommandResult(tuple(argv), int(status), timed == "1", t1 - t0, streams["out"],
                         streams["err"], sizes["out"], sizes["err"])


def run_in_guest(call: Callable[..., AgentReply], argv: Sequence[str], timeout: float,
                 limit: int = OUTPUT_LIMIT) -> CommandResult:
    """``call`` is ``GuestVM.call``; the guest kills the command at ``timeout`` seconds."""
    words = encode_argv(argv)
    seconds = max(1, int(round(timeout)))
    reply = call("run", seconds, limit, *words, timeout=seconds + REPLY_MARGIN)
    if not reply.ok:
        raise GuestError(f"agent run failed ({reply.status}): {reply.text[:200]}")
    return parse_reply(argv, reply)
