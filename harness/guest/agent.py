"""Host side of the guest agent protocol on the second serial port (pexpect).

Each request is ``<id> <verb> [args] <id>`` (the id at both ends detects a damaged line); the reply is framed ``@@BEGIN <id>`` …
``@@END <id> <status>``. Waiting is done in short slices so a panic (seen on the
console) or a dead QEMU ends the wait at once instead of at the timeout.
"""
from __future__ import annotations

import itertools
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pexpect.fdpexpect

from harness.errors import GuestError
from harness.paths import RunFile

log = logging.getLogger("memhp.agent")

_VERB = re.compile(r"^[a-z_]+$")
_ARG = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class AgentReply:
    verb: str
    status: int
    lines: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class GuestGone(GuestError):
    """The guest stopped answering: panic, QEMU exit, or silence past the timeout."""


class Agent:
    def __init__(self, sock: socket.socket, transcript: Path,
                 alive: Callable[[], str | None]) -> None:
        """``alive()`` returns None while the guest may still answer, else why it cannot."""
        self._log = RunFile(transcript, append=True)  # closed in close()
        self._child = pexpect.fdpexpect.fdspawn(sock.fileno(), logfile=self._log, timeout=1)
        # pexpect sleeps 0.1 ms (0.2 ms here) after every read, hundreds of times a run;
        # its select() already waits for the guest.
        self._child.delayafterread = None
        self._alive = alive
        self._ids = itertools.count(1)
        self.release: str | None = None

    def _expect(self, pattern: str, timeout: float, what: str) -> re.Match[bytes]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._child.expect(pattern, timeout=0.5)
                match = self._child.match
                assert isinstance(match, re.Match)
                return match
            except pexpect.TIMEOUT:
                reason = self._alive()
                if reason:
                    raise GuestGone(f"{what}: {reason}") from None
                if time.monotonic() > deadline:
                    raise GuestGone(f"{what}: no answer within {timeout:.0f} s") from None
            except pexpect.EOF:
                raise GuestGone(f"{what}: agent channel closed ({self._alive() or 'QEMU gone'})") from None

    def wait_ready(self, timeout: float) -> str:
        match = self._expect(r"@@MEMHP-READY ([^\r\n]*)\r?\n", timeout, "boot")
        self.release = match.group(1).decode(errors="replace").strip()
        return self.release

    def call(self, verb: str, *args: object, timeout: float = 30.0) -> AgentReply:
        words = [str(a) for a in args]
        if not _VERB.match(verb) or not all(_ARG.match(w) for w in words):
            raise ValueError(f"agent request {verb} {words} has characters the protocol forbids")
        ident = next(self._ids)
        request = " ".join([str(ident), verb, *words, str(ident)]).encode() + b"\n"
        for _ in range(3):
            self._child.send(request)
            # A request the guest received damaged was not run; it says so and we resend.
            match = self._expect(rf"@@(BEGIN {ident}|GARBLED [^\r\n]*)\r?\n", timeout, f"agent {verb}")
            if match.group(1).startswith(b"BEGIN"):
                break
            log.warning("agent: request %r arrived damaged (%r); resending", request, match.group(1))
        else:
            raise GuestGone(f"agent {verb}: the request arrived damaged three times")
        self._expect(rf"@@END {ident} (\d+)\r?\n", timeout, f"agent {verb}")
        body = self._child.before.decode(errors="replace")
        status = int(self._child.match.group(1))
        lines = tuple(line.rstrip("\r") for line in body.split("\n") if line.strip("\r"))
        log.debug("%s %s → %d", verb, words, status)
        return AgentReply(verb, status, lines)

    def close(self) -> None:
        self._log.close()
