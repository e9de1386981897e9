"""A guest-side unplug failure as each QEMU reports it: MEM_UNPLUG_ERROR (until 9.0) and
DEVICE_UNPLUG_GUEST_ERROR (6.2 on, the only one since 9.1, qapi/qdev.json); either ends
``device_del`` as refused. DEVICE_DELETED's ``device`` is deprecated (8.0): ``path`` does."""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest

from harness.qemu.qmp import QmpSession

STAMP = {"timestamp": {"seconds": 0, "microseconds": 0}}
MEM_UNPLUG_ERROR = {"event": "MEM_UNPLUG_ERROR", "data": {"device": "hot0", "msg": "unplug failed"}}
GUEST_ERROR = {"event": "DEVICE_UNPLUG_GUEST_ERROR",
               "data": {"device": "hot0", "path": "/machine/peripheral/hot0"}}
DELETED_BY_PATH = {"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/hot0"}}


def _monitor(sock: socket.socket, events: list[dict[str, Any]]) -> None:
    def send(msg: dict[str, Any]) -> None:
        sock.sendall(json.dumps(msg).encode() + b"\r\n")

    send({"QMP": {"version": {"qemu": {"major": 10, "minor": 0, "micro": 2}, "package": ""},
                  "capabilities": []}})
    buffer, decoder = "", json.JSONDecoder()
    while chunk := sock.recv(4096):
        buffer += chunk.decode()
        while buffer.strip():
            msg, end = decoder.raw_decode(buffer.lstrip())
            buffer = buffer.lstrip()[end:]
            send({"return": {}, **({"id": msg["id"]} if "id" in msg else {})})
            if msg["execute"] == "device_del":
                for event in events:
                    send(event | STAMP)


def _unplug(tmp_path: Path, events: list[dict[str, Any]], timeout: float = 5,
            gone: Callable[[], bool] | None = None) -> tuple[bool, str]:
    ours, theirs = socket.socketpair()
    threading.Thread(target=_monitor, args=(theirs, events), daemon=True).start()
    qmp = QmpSession(tmp_path / "qmp.jsonl")
    try:
        qmp.connect(ours, 5)
        outcome = qmp.device_del("hot0", timeout, gone=gone)
        return outcome.deleted, outcome.reason
    finally:
        qmp.close()
        theirs.close()


@pytest.mark.parametrize("events", [[MEM_UNPLUG_ERROR, GUEST_ERROR], [GUEST_ERROR], [MEM_UNPLUG_ERROR]],
                         ids=["7.2-both", "9.1-on", "old-only"])
def test_either_unplug_error_event_is_a_refusal(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    deleted, reason = _unplug(tmp_path, events)
    assert not deleted and reason == f"guest refused: {events[0]['event']}"


def test_another_device_s_error_is_not_ours(tmp_path: Path) -> None:
    other = {"event": "DEVICE_UNPLUG_GUEST_ERROR", "data": {"path": "/machine/peripheral/hot1"}}
    deleted, reason = _unplug(tmp_path, [other, DELETED_BY_PATH])
    assert deleted and reason == "DEVICE_DELETED /machine/peripheral/hot0"


def test_a_device_that_leaves_without_deleted_ends_the_wait_when_it_is_gone(tmp_path: Path) -> None:
    """QEMU 10.0 sends no DEVICE_DELETED for a cxl-type3 that left its tree: the caller's
    ``gone`` ends the wait (not deleted: no event said so), else the timeout does."""
    asked = []

    def gone() -> bool:
        asked.append(1)
        return len(asked) >= 2

    deleted, reason = _unplug(tmp_path, [], timeout=30, gone=gone)
    assert not deleted and reason.startswith("no DEVICE_DELETED; gone after") and len(asked) == 2
    deleted, reason = _unplug(tmp_path, [], timeout=1.5, gone=lambda: False)
    assert not deleted and reason == "no DEVICE_DELETED within 2 s; no _OST event"
