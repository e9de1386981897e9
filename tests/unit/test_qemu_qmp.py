"""QmpSession against a scripted monitor on a socketpair: greeting, transcript, dropping
the connection for fault injection, and the timeouts that replace a hang."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InfrastructureError
from harness.qemu.qmp import QmpSession

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
                    "capabilities": []}}
STATUS = {"status": "running", "singlestep": False, "running": True}


class FakeMonitor:
    """QEMU's side: greets, answers every command, and notes when our side hung up."""

    def __init__(self, sock: socket.socket, greet: bool = True) -> None:
        self.sock = sock
        self.commands: list[str] = []
        self.hung_up = threading.Event()
        self._greet = greet
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _send(self, msg: dict[str, object]) -> None:
        self.sock.sendall(json.dumps(msg).encode() + b"\r\n")

    def _serve(self) -> None:
        if self._greet:
            self._send(GREETING)
        for msg in self._messages():
            self.commands.append(msg["execute"])
            reply = STATUS if msg["execute"] == "query-status" else {}
            self._send({"return": reply, **({"id": msg["id"]} if "id" in msg else {})})
        self.hung_up.set()

    def _messages(self) -> Iterator[dict[str, Any]]:
        # Like QEMU's JSON streamer: messages need no newline between them.
        buffer, decoder = "", json.JSONDecoder()
        while chunk := self.sock.recv(4096):
            buffer += chunk.decode()
            while buffer.strip():
                msg, end = decoder.raw_decode(buffer.lstrip())
                buffer = buffer.lstrip()[end:]
                yield msg


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def _transcript(path: Path) -> list[tuple[str, object]]:
    return [(rec["dir"], rec["msg"]) for rec in map(json.loads, path.read_text().splitlines())]


def test_connect_and_command_are_in_the_transcript(tmp_path: Path, pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    monitor = FakeMonitor(theirs)
    (tmp_path / "qmp.jsonl").write_text('{"dir": "cmd", "msg": "an earlier run in this folder"}\n')
    session = QmpSession(tmp_path / "qmp.jsonl")
    try:
        session.connect(ours, timeout=5)
        assert session.command("query-status") == STATUS
    finally:
        session.close()
    assert monitor.commands == ["qmp_capabilities", "query-status"]
    records = _transcript(tmp_path / "qmp.jsonl")
    assert [d for d, _ in records] == ["greeting", "cmd", "ret"]
    assert records[0][1] == GREETING
    assert records[1][1] == {"execute": "query-status", "arguments": {}}


def test_dropped_connection_fails_the_next_command_like_a_dead_monitor(
        tmp_path: Path, pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    monitor = FakeMonitor(theirs)
    session = QmpSession(tmp_path / "qmp.jsonl")
    try:
        session.connect(ours, timeout=5)
        session.drop_connection()
        assert monitor.hung_up.wait(5), "the monitor's end saw the connection close"
        with pytest.raises(InfrastructureError, match="^QMP query-status: no reply"):
            session.command("query-status")
        session.drop_connection()  # again, after qemu.qmp closed the socket: nothing to cut
    finally:
        session.close()
    assert monitor.commands == ["qmp_capabilities"]
    assert [d for d, _ in _transcript(tmp_path / "qmp.jsonl")] == ["greeting", "cmd", "err"]


def test_a_monitor_that_never_greets_times_out(tmp_path: Path, pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    FakeMonitor(theirs, greet=False)
    session = QmpSession(tmp_path / "qmp.jsonl")
    try:
        with pytest.raises(InfrastructureError, match="^QMP: no greeting within 0.2 s$"):
            session.connect(ours, timeout=0.2)
        with pytest.raises(InfrastructureError, match="^QMP not connected$"):
            session.command("query-status")
        session.try_quit()  # nothing connected: nothing sent
    finally:
        session.close()
    assert ours.fileno() == -1, "close() releases a socket qemu.qmp never took"
    assert _transcript(tmp_path / "qmp.jsonl") == [], "nothing was sent"
