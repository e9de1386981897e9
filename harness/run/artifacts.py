"""The two files a run leaves besides its raw logs, ``result.json`` and ``model.json``, as types.

Every writer builds a :class:`ResultFile` or :class:`ModelFile` and every reader (compare,
matrix cells, reports) gets one back from :meth:`Artifact.read`, so no one reads them by
key.  They are frozen dataclasses validated by pydantic, like the boot-log facts they
embed (``BootLog``, the pinning findings), which keep their own JSON form.

A file that does not match (another ``schema_version``, a missing or mistyped field) is
bad input: one line naming the file and the field.  Bump :data:`SCHEMA_VERSION` when a
file changes in a way an older reader would misread.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import TypeAdapter, ValidationError

from acpi_tables.srat import MemoryAffinity
from harness.analysis.pinning import HotplugRangeReservation, NodeHotplugFinding
from harness.errors import BadInputError, ExitCode, Verdict
from harness.guest.command import CommandRecord
from harness.guest.state import GuestSnapshot, HotplugParams, PageFlagSummary, PageFlagsUnread, ZoneInfo
from harness.guest.cxl_actions import CxlOutcome
from harness.guest.virtio_mem_actions import ResizeOutcome
from harness.logparse import BootLog
from harness.logparse.common import JsonMixin
from harness.paths import write_atomic
from harness.scenario.layout import MemoryLayout

SCHEMA_VERSION = 1

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def warm_adapters() -> None:
    """Build the summaries' adapters ahead (runner: in a thread while the guest boots, on a
    core QEMU's TCG thread leaves idle): after QEMU exits, the build (a third of a second
    of CPU, all of BootLog) is on the run's critical path."""
    for cls in (ResultFile, ModelFile):
        _adapter(cls)


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    # Building an adapter walks every nested type (all of BootLog): once per class.
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def _field(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as a path: ``checks[0].ok``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "(top level)"


def _one_line(where: str, err: ValidationError) -> str:
    first = err.errors()[0]
    msg = first["msg"][:1].lower() + first["msg"][1:]  # mid-sentence; quoted values keep their case
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {_field(first['loc'])}: {msg}{more}"


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """A JSON file of a run: ``schema_version`` first, then the subclass's fields."""

    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _adapter(type(self)).dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: object, where: str = "") -> Self:
        """Validate ``data``; ``where`` (the file) starts the one-line error."""
        where = where or cls.__name__
        if not isinstance(data, dict):
            raise BadInputError(f"{where}: not a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            found = "missing" if version is None else f"{version!r}"
            raise BadInputError(f"{where}: schema_version: {found}, this memhp reads {SCHEMA_VERSION}")
        try:
            result: Self = _adapter(cls).validate_python(data)
        except ValidationError as err:
            raise BadInputError(_one_line(where, err)) from None
        return result

    @classmethod
    def read(cls, path: Path) -> Self:
        try:
            data = json.loads(path.read_text())
        except OSError as err:
            raise BadInputError(f"{path}: cannot read: {err.strerror}") from err
        except ValueError as err:
            raise BadInputError(f"{path}: not JSON: {err}") from err
        return cls.from_json(data, str(path))

    def write(self, path: Path) -> None:
        """Atomically: a reader never sees half a file, even after a crash."""
        # pydantic writes the JSON itself: 1 ms for a model.json, against 4 ms through
        # Python dicts and json's indenting encoder (pure Python), after QEMU exited.
        write_atomic(path, _adapter(type(self)).dump_json(self, indent=2) + b"\n")


def kernel_label(kernel: str, release: str | None) -> str:
    """``debian:6.1 (6.1.0-57-amd64)``: for people; the two are separate fields."""
    return f"{kernel} ({release})" if release else kernel


# ---- result.json ------------------------------------------------------------------


@dataclass(frozen=True)
class Check(JsonMixin):
    """One expectation against what was seen; ``expected``/``observed`` say it in words."""

    name: str
    expected: str
    observed: str
    ok: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class PredictedReservation:
    """A reservation the model puts in a hotpluggable range, and the guest's page flags
    (``PG_reserved`` pages) of its block when that block refused to offline."""

    start: int
    end: int
    caller: str
    node: int | None
    block: int
    pageflags_reserved: int | None


@dataclass(frozen=True, kw_only=True)
class ModelAgreement:
    """What ``harness.run.model_agreement`` found; ``skipped``/``error`` when it could not."""

    template: str | None
    reservations_in_hotplug_ranges: tuple[PredictedReservation, ...]
    block_disagreements: tuple[str, ...]
    skipped: str | None
    error: str | None
    profile_note: str = ""  # kernels.profile: the release has no profile row of its own

    @classmethod
    def not_run(cls, *, skipped: str | None = None, error: str | None = None) -> ModelAgreement:
        return cls(template=None, reservations_in_hotplug_ranges=(), block_disagreements=(),
                   skipped=skipped, error=error)

    def summary_lines(self) -> list[tuple[str, str]]:
        """What the printed summary must say about the model: why it did not run, or the
        profile a release without its own was modelled with."""
        out = []
        if self.skipped:
            out.append(("not run", self.skipped))
        if self.error:
            out.append(("failed", self.error))
        if self.profile_note:
            out.append(("profile", self.profile_note))
        return out


@dataclass(frozen=True, kw_only=True)
class QemuInfo:
    """The QEMU that ran (its own ``query-version`` and ``query-machines`` answers)."""

    spec: str      # --qemu as given: system, a path, debian:…
    path: str      # the binary
    version: str   # 10.0.2
    package: str   # QEMU's package string, e.g. "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1"; "" if none
    machine: str   # the machine type -M resolved to: pc → pc-i440fx-10.0
    archive: str | None = None  # from Debian's archive: "qemu-system-x86 <version> (<suite>)"
    chosen: str | None = None   # why this QEMU and not --qemu's, one line (harness.qemu.choice)

    @property
    def label(self) -> str:
        return f"QEMU {self.version}" + (f" ({self.package})" if self.package else "")


# What result.json says of `memhp run --repeat`: every repetition and the totals.

@dataclass(frozen=True, kw_only=True)
class Repetition:
    """One repetition of ``memhp run --repeat``: a fresh QEMU restored from the saved guest."""

    index: int  # 1-based; its artifacts are in rep-NN/
    verdict: Verdict
    failed_checks: tuple[str, ...]
    refused: tuple[str, ...]  # "action: reason" of every action that did not succeed
    restore_seconds: float | None  # QEMU start to the restored agent's answer
    action_seconds: float | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class RepeatInfo:
    """Boot once, save the guest (QEMU migration into a file), restore it ``count`` times."""

    count: int
    boot_seconds: float
    save_seconds: float
    state_bytes: int
    repetitions: tuple[Repetition, ...]
    # Per action that did not succeed in some repetition: "ID refused in K of N: reason ×k; …"
    refusals: tuple[str, ...]
    migration: str = "stream"  # how the guest was saved and restored (harness.qemu.migration)

    def totals(self) -> str:
        counts = {v: sum(r.verdict is v for r in self.repetitions) for v in Verdict}
        return ", ".join(f"{n} {v.value}" for v, n in counts.items() if n) + f" of {self.count}"


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """Facts about the run that are not checks (none of them moves the verdict)."""

    accel: str | None
    out_dir: str | None
    reserved_in_hotplug_ranges: tuple[str, ...]
    model_agreement: ModelAgreement | None
    # QEMU start to the guest agent's hello, and the scenario's actions (None: not reached);
    # a matrix report shows them apart, as a slow boot and a slow removal mean different things.
    boot_seconds: float | None = None
    action_seconds: float | None = None
    virtio_mem: tuple[str, ...] = ()  # the virtio-mem driver's own lines, quoted
    repeat: RepeatInfo | None = None  # memhp run --repeat: every repetition and the totals
    boot: str = "bzimage"  # how QEMU entered the kernel: bzimage, or pvh (memhp run --boot)
    qemu: QemuInfo | None = None  # None: the run ended before QEMU was chosen
    unread_lines: tuple[str, ...] = ()  # console lines a known trigger claimed but no pattern read
    # The run folder whose boot this scenario was judged on (it differs from that run's
    # scenario only in what it expects: harness.run.runner.judge_on); None: its own boot.
    judged_on: str | None = None
    # The boot folder of the saved guest this run's QEMU restored (another scenario of the
    # same machine and command line booted it: harness.run.repeat.run_restored).
    restored_from: str | None = None


NO_INFO = RunInfo(accel=None, out_dir=None, reserved_in_hotplug_ranges=(), model_agreement=None)


@dataclass(frozen=True, kw_only=True)
class ResultFile(Artifact):
    """``result.json``: the verdict, its exit code and every check."""

    scenario: str
    kernel: str  # the spec as given: debian:6.1, or a bzImage path
    release: str | None  # uname -r of that kernel; None when the run did not get that far
    verdict: Verdict
    exit_code: ExitCode
    error: str | None
    checks: tuple[Check, ...]
    model_checks: tuple[Check, ...]
    info: RunInfo

    @property
    def failed_checks(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.ok)


# ---- model.json -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GuestRecord:
    release: str | None  # uname -r as the guest's agent reported it
    before: GuestSnapshot | None
    after: GuestSnapshot | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class MemoryDeviceInfo:
    """One entry of QMP ``query-memory-devices`` (qapi/machine.json MemoryDeviceInfo), as
    QEMU sent it; ``data`` depends on ``type`` (PCDIMMDeviceInfo for ``dimm``)."""

    type: str
    data: dict[str, Any]

    @classmethod
    def of(cls, answer: dict[str, Any]) -> MemoryDeviceInfo:
        info: MemoryDeviceInfo = _adapter(cls).validate_python(answer)
        return info

    def dimm_range(self) -> tuple[str, int, int] | None:
        """(id, start, end) of a DIMM with an id, else None."""
        if not {"id", "addr", "size"} <= self.data.keys():
            return None
        addr = int(self.data["addr"])
        return str(self.data["id"]), addr, addr + int(self.data["size"])


@dataclass(frozen=True, kw_only=True)
class MemoryDevices:
    before: tuple[MemoryDeviceInfo, ...] | None  # None: the guest was gone before we asked
    after: tuple[MemoryDeviceInfo, ...] | None


@dataclass(frozen=True, kw_only=True)
class BlockRecord:
    """A memory block an action tried to change, and the page flags of a refusal."""

    block: int
    start: int
    ok: bool
    error: str
    pageflags: PageFlagSummary | PageFlagsUnread | None


@dataclass(frozen=True, kw_only=True)
class OstRecord:
    """An ACPI _OST event QEMU reported (ACPI_OST_EVENT), with ``words`` for people."""

    device: str | None
    slot: str | None
    source: int
    status: int
    words: str


@dataclass(frozen=True, kw_only=True)
class UnplugRecord:
    device: str
    deleted: bool
    seconds: float
    ost: tuple[OstRecord, ...]
    reason: str


@dataclass(frozen=True, kw_only=True)
class DimmOnlineRecord:
    """A dimm_add's outcome in the guest: the zone its blocks were onlined to (or
    ``offline``), the hotplug settings that chose it and the zones just after."""

    zone: str
    hotplug_params: HotplugParams
    zoneinfo: tuple[ZoneInfo, ...]


@dataclass(frozen=True, kw_only=True)
class DimmRecord:
    id: str
    start: int | None  # None: QEMU listed no such DIMM
    end: int | None
    onlined: DimmOnlineRecord | None = None  # dimm_add only


@dataclass(frozen=True, kw_only=True)
class CpuRemovalRecord:
    """``harness.guest.node_removal.CpuRemoval``."""

    socket: int
    qom_path: str
    unplug: UnplugRecord
    guest_cpus_gone: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class NodeDimmRecord(DimmRecord):
    unplug: UnplugRecord | None


@dataclass(frozen=True, kw_only=True)
class NodeStatesRecord:
    """``harness.guest.state.NodeStates`` after the removal."""

    dirs: tuple[int, ...]
    online: tuple[int, ...]
    has_cpu: tuple[int, ...]
    has_memory: tuple[int, ...]
    has_normal_memory: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class NodeRemovalRecord:
    """A node_remove action: what went (in which order), where the node still showed,
    and whether the guest still answered and allocated (None: not reached)."""

    node: int
    order: str
    cpus: tuple[CpuRemovalRecord, ...]
    dimms: tuple[NodeDimmRecord, ...]
    states: NodeStatesRecord | None = None
    healthy: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ActionRecord:
    """One scenario action as run (``harness.guest.actions.ActionResult``)."""

    id: str
    do: str
    expected: str
    observed: str
    ok: bool
    reason: str
    seconds: float
    blocks: tuple[BlockRecord, ...]
    unplug: UnplugRecord | None
    dimm: DimmRecord | None
    console_evidence: tuple[str, ...]
    unmovable_pfns: tuple[int, ...] = ()  # absent in files from before boot-RAM DIMMs
    node: NodeRemovalRecord | None = None  # node_remove only
    command: CommandRecord | None = None  # run only
    virtio_mem: ResizeOutcome | None = None  # virtio_mem_resize only
    cxl: CxlOutcome | None = None  # cxl_* only

    @classmethod
    def of(cls, written: dict[str, Any]) -> ActionRecord:
        """From ``ActionResult.to_json()``: the guest package keeps its wire form, this
        type checks it."""
        record: ActionRecord = _adapter(cls).validate_python(written)
        return record


@dataclass(frozen=True, kw_only=True)
class ModelFile(Artifact):
    """``model.json``: the layout memhp asked QEMU for, the parsed boot log and what it
    implies for hotplug, and what the guest showed before and after the actions."""

    scenario: str
    layout: MemoryLayout
    boot_log: BootLog
    hotplug_findings: tuple[NodeHotplugFinding, ...]
    reservations_in_hotplug_ranges: tuple[HotplugRangeReservation, ...]
    guest: GuestRecord
    guest_srat_memory: tuple[MemoryAffinity, ...] | None  # None: the guest's SRAT was not read
    node_distances: tuple[tuple[int, ...], ...] | None
    memory_devices: MemoryDevices
    actions: tuple[ActionRecord, ...]
