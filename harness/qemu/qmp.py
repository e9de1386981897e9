"""QMP over a private unix socket with qemu.qmp, every message kept in a transcript.

The transcript (``qmp.jsonl``) has one JSON object per line: ``{"t": host time,
"dir": "cmd"|"ret"|"err"|"event", "msg": …}``; events also keep QEMU's own timestamp.
``device_del`` is asynchronous: success is ``DEVICE_DELETED``; a guest refusal shows only
as ``ACPI_DEVICE_OST`` events, decoded here into words (kernel drivers/acpi/scan.c and
QEMU docs/specs/acpi_mem_hotplug.rst).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qemu.qmp.legacy import QEMUMonitorProtocol

from harness.errors import GuestError, InfrastructureError
from harness.paths import RunFile
from harness.qemu.facts import UNPLUG_ERROR_EVENTS

# ACPI _OST source events and status codes (ACPI spec 6.3.5; include/acpi/actypes.h).
OST_EVENTS = {0x01: "device check", 0x03: "eject request", 0x100: "ospm shutdown",
              0x101: "ospm eject", 0x102: "ospm insertion"}
OST_STATUS = {
    0x00: "success",
    0x01: "non-specific failure",
    0x02: "unrecognized notify",
    0x80: "eject not supported by OSPM",
    0x81: "device in use by application",
    0x82: "device busy",
    0x83: "ejection dependency is busy or not supported",
    0x84: "ejection in progress",
}
# _OST statuses after which the guest will not eject: waiting longer is pointless.
OST_FINAL_FAILURES = frozenset({0x01, 0x02, 0x80, 0x81, 0x82, 0x83})


@dataclass(frozen=True)
class OstEvent:
    device: str | None
    slot: str | None
    source: int
    status: int

    @property
    def words(self) -> str:
        src = OST_EVENTS.get(self.source, f"source {self.source:#x}")
        return f"{src}: {OST_STATUS.get(self.status, f'status {self.status:#x}')} ({self.status:#x})"

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "slot": self.slot, "source": self.source,
                "status": self.status, "words": self.words}


@dataclass(frozen=True)
class UnplugOutcome:
    device: str
    deleted: bool
    seconds: float
    ost: tuple[OstEvent, ...]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "deleted": self.deleted, "seconds": round(self.seconds, 3),
                "ost": [o.to_json() for o in self.ost], "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class MemoryDevice:
    """One entry of QMP ``query-memory-devices`` (qapi/machine.json MemoryDeviceInfo), typed
    where it enters, as the dataclass of its kind; ``answer`` is QEMU's own words, which
    model.json and the restored-guest comparison keep."""

    type: str         # MemoryDeviceInfoKind: "dimm", "virtio-mem", …
    id: str | None
    answer: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def range(self) -> tuple[int, int] | None:
        """Where its memory is, for the kinds memhp reads (None for the others)."""
        return None


@dataclass(frozen=True, kw_only=True)
class PcDimmDevice(MemoryDevice):
    """PCDIMMDeviceInfo (``dimm``, and ``nvdimm``)."""

    addr: int
    size: int
    node: int
    slot: int | None = None

    @property
    def range(self) -> tuple[int, int] | None:
        return self.addr, self.addr + self.size


@dataclass(frozen=True, kw_only=True)
class VirtioMemDevice(MemoryDevice):
    """VirtioMEMDeviceInfo: ``size`` is what the guest has plugged of its region."""

    memaddr: int
    size: int
    max_size: int
    requested_size: int
    node: int

    @property
    def range(self) -> tuple[int, int] | None:
        return self.memaddr, self.memaddr + self.max_size


def memory_device(answer: Mapping[str, Any]) -> MemoryDevice:
    """One ``query-memory-devices`` entry, as the dataclass of its kind; an answer without
    the fields qapi/machine.json requires is QEMU's trouble (InfrastructureError)."""
    kind, data = str(answer.get("type")), answer.get("data")
    try:
        assert isinstance(data, Mapping), "no data"
        own: dict[str, Any] = {"type": kind, "id": None if data.get("id") is None else str(data["id"]),
                               "answer": answer}
        if kind in ("dimm", "nvdimm"):
            return PcDimmDevice(**own, addr=int(data["addr"]), size=int(data["size"]), node=int(data["node"]),
                                slot=None if data.get("slot") is None else int(data["slot"]))
        if kind == "virtio-mem":
            return VirtioMemDevice(**own, memaddr=int(data["memaddr"]), size=int(data["size"]),
                                   max_size=int(data["max-size"]), requested_size=int(data["requested-size"]),
                                   node=int(data["node"]))
        return MemoryDevice(**own)
    except (AssertionError, KeyError, TypeError, ValueError) as err:
        raise InfrastructureError(f"query-memory-devices: {kind} entry lacks {err}: {answer!r}") from None


def _deleted(data: dict[str, Any], device: str, cpu: bool) -> bool:
    path = str(data.get("path", ""))
    if not cpu:
        # ``device`` is deprecated since QEMU 8.0 (qapi/qdev.json): ``path`` says the same.
        return data.get("device") == device or path == f"/machine/peripheral/{device}"
    return path == device or path.startswith(device + "/")


def _ost_for(info: dict[str, Any], device: str, cpu: bool) -> bool:
    if cpu:
        return bool(info.get("slot-type") == "CPU")
    return info.get("device") in (None, device)


def _last(ost: list[OstEvent]) -> str:
    return f"; last _OST: {ost[-1].words}" if ost else "; no _OST event"


class QmpSession:
    """QMP on the connection QEMU made to our listening socket, with a transcript of all traffic.

    The session holds that socket itself, so that fault injection can cut it
    (:meth:`drop_connection`) without reaching into qemu.qmp.
    """

    def __init__(self, transcript: Path) -> None:
        # "w": one run's transcript, even in a reused --out folder (QEMU truncates console.log too).
        self._transcript = RunFile(transcript)
        self._sock: socket.socket | None = None
        self._qmp: QEMUMonitorProtocol | None = None
        self._pending: list[dict[str, Any]] = []
        self._closed = False

    def _record(self, direction: str, msg: Any) -> None:
        self._transcript.write(json.dumps({"t": round(time.time(), 6), "dir": direction,
                                           "msg": msg}).encode() + b"\n")

    def connect(self, sock: socket.socket, timeout: float) -> None:
        """Greet QEMU over ``sock`` and negotiate capabilities.

        qemu.qmp's connect has no timeout of its own: waiting for the greeting's first byte
        here makes a QEMU that connected but never speaks fail within ``timeout``.
        """
        self._sock = sock
        if not select.select([sock], [], [], timeout)[0]:
            raise InfrastructureError(f"QMP: no greeting within {timeout:g} s")
        qmp = QEMUMonitorProtocol(sock, nickname="memhp")
        qmp.settimeout(30.0)
        greeting = qmp.connect()
        self._qmp = qmp
        self._record("greeting", greeting)

    def _client(self) -> QEMUMonitorProtocol:
        if self._qmp is None:
            raise InfrastructureError("QMP not connected")
        return self._qmp

    def drop_connection(self) -> None:
        """Cut the monitor connection as if QEMU had closed its end (fault injection).

        QEMU keeps running; the next :meth:`command` fails as it would with a dead monitor.
        Shutting the socket down (not closing it) leaves qemu.qmp to notice on its own.
        """
        if self._sock is not None:
            with contextlib.suppress(OSError):  # qemu.qmp already closed it: nothing to cut
                self._sock.shutdown(socket.SHUT_RDWR)

    def command(self, name: str, **args: Any) -> Any:
        """Run a command; a QMP error reply becomes a GuestError naming the command."""
        client = self._client()
        self._record("cmd", {"execute": name, "arguments": args})
        try:
            reply = client.cmd_raw(name, args or None)
        except Exception as err:  # socket gone, timeout: QEMU itself is in trouble
            self._record("err", repr(err))
            raise InfrastructureError(f"QMP {name}: no reply ({err!r})") from err
        self._record("ret", reply)
        self._collect()
        if "error" in reply:
            raise GuestError(f"QMP {name} failed: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def send_fd(self, fd: int, name: str) -> None:
        """Hand QEMU a file descriptor (SCM_RIGHTS on the monitor socket) under ``name``,
        for ``migrate uri=fd:NAME`` (QMP ``getfd``, qapi/misc.json): no shell, no path."""
        self._record("cmd", {"send_fd_scm": name})
        self._client().send_fd_scm(fd)
        self.command("getfd", fdname=name)

    def wait_migration(self, timeout: float) -> dict[str, Any]:
        """Poll ``query-migrate`` (either side) until the migration ended; its last answer."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.command("query-migrate")
            if status.get("status") in ("completed", "failed", "cancelled"):
                return dict(status)
            if time.monotonic() > deadline:
                raise InfrastructureError(f"QMP migrate: not done within {timeout:g} s ({status})")
            time.sleep(0.02)

    def _collect(self, wait: float = 0.0) -> None:
        try:
            events = self._client().get_events(wait=wait if wait > 0 else False)
        except (asyncio.TimeoutError, TimeoutError):
            events = []
        for event in events:
            self._record("event", event)
            self._pending.append(event)

    def take_events(self, wait: float = 0.0) -> list[dict[str, Any]]:
        self._collect(wait)
        events, self._pending = self._pending, []
        return events

    def device_del(self, device: str, timeout: float, cpu: bool = False,
                   gone: Callable[[], bool] | None = None) -> UnplugOutcome:
        """Ask for an unplug and wait for DEVICE_DELETED, a final _OST refusal, QEMU's own
        unplug-error event (either of :data:`UNPLUG_ERROR_EVENTS`: which one depends on the
        QEMU release), ``gone()`` saying the device left by other signs (for a device QEMU
        sends no DEVICE_DELETED for), or the timeout.

        ``cpu``: ``device`` is a CPU's QOM path (query-hotpluggable-cpus). QEMU 7.2 then
        sends ``DEVICE_DELETED`` for the child ``<path>/lapic`` and ``_OST`` with slot-type
        CPU and no device id, so both are matched by path and slot type.
        """
        start = time.monotonic()
        self.take_events()
        self.command("device_del", id=device)
        ost: list[OstEvent] = []
        while (elapsed := time.monotonic() - start) < timeout:
            refused: str | None = None  # an unplug-error event, judged after its batch's _OST
            for event in self.take_events(wait=min(1.0, max(0.05, timeout - elapsed))):
                name, data = event.get("event"), event.get("data", {})
                if name in UNPLUG_ERROR_EVENTS and not cpu and _deleted(data, device, cpu):
                    refused = refused or str(name)
                if name == "DEVICE_DELETED" and _deleted(data, device, cpu):
                    return UnplugOutcome(device, True, time.monotonic() - start, tuple(ost),
                                         f"DEVICE_DELETED {data.get('device') or data.get('path')}")
                if name == "ACPI_DEVICE_OST":
                    info = data.get("info", {})
                    if not _ost_for(info, device, cpu):
                        continue
                    ev = OstEvent(info.get("device"), info.get("slot"), int(info.get("source", 0)),
                                  int(info.get("status", 0)))
                    ost.append(ev)
                    if ev.status in OST_FINAL_FAILURES:
                        return UnplugOutcome(device, False, time.monotonic() - start, tuple(ost),
                                             f"guest refused: {ev.words}")
            if refused is not None:  # QEMU said so, though no _OST status was final
                return UnplugOutcome(device, False, time.monotonic() - start, tuple(ost),
                                     f"guest refused: {refused}")
            if gone is not None and gone():
                return UnplugOutcome(device, False, time.monotonic() - start, tuple(ost),
                                     f"no DEVICE_DELETED; gone after {time.monotonic() - start:.0f} s{_last(ost)}")
        return UnplugOutcome(device, False, time.monotonic() - start, tuple(ost),
                             f"no DEVICE_DELETED within {timeout:.0f} s{_last(ost)}")

    def try_quit(self) -> None:
        if self._qmp is None:
            return
        try:
            self._record("cmd", {"execute": "quit"})
            self._qmp.cmd_raw("quit")
        except Exception as err:  # QEMU may exit before replying: that is the point of quit
            self._record("err", repr(err))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._qmp is not None:
            try:
                self._qmp.close()
            except Exception:  # already disconnected: nothing left to release
                pass
        if self._sock is not None:
            self._sock.close()  # a no-op once qemu.qmp closed it; not if connect failed
        self._transcript.close()
