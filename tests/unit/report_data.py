"""A small matrix result and model.json for the report tests (no boot needed), and the
typed artifacts other tests build runs from."""
from __future__ import annotations

from pathlib import Path

from harness.analysis.pinning import (
    AttributedReservation,
    CauseKind,
    HotplugRangeReservation,
    HotplugStatus,
    NodeHotplugFinding,
    ReservationCause,
)
from harness.lab.results import MatrixResult, RunRecord
from harness.logparse import AddressRange, BootLog, E820Entry, E820Type, SratMemoryLine, ZoneRange
from harness.memblock.model import MemblockRegion
from harness.run.artifacts import (
    ActionRecord,
    BlockRecord,
    DimmRecord,
    GuestRecord,
    MemoryDevices,
    ModelFile,
)
from harness.run.verdict import Verdict
from harness.scenario.layout import MemoryLayout

G, M, K = 1 << 30, 1 << 20, 1 << 10


def model_file(boot_log: BootLog, findings: tuple[NodeHotplugFinding, ...] = (),
               reservations: tuple[HotplugRangeReservation, ...] = (),
               actions: tuple[ActionRecord, ...] = ()) -> ModelFile:
    """A model.json with these facts and nothing else (no layout, no guest)."""
    return ModelFile(scenario="t", layout=MemoryLayout(0, 0, 0, 0, ()), boot_log=boot_log,
                     hotplug_findings=findings, reservations_in_hotplug_ranges=reservations,
                     guest=GuestRecord(release=None, before=None, after=None, error=None),
                     guest_srat_memory=None, node_distances=None,
                     memory_devices=MemoryDevices(before=None, after=None), actions=actions)


def action(id_: str, do: str, observed: str, reason: str = "", blocks: tuple[BlockRecord, ...] = (),
           dimm: DimmRecord | None = None) -> ActionRecord:
    return ActionRecord(id=id_, do=do, expected="success", observed=observed,
                        ok=observed == "success", reason=reason, seconds=1.0, blocks=blocks,
                        unplug=None, dimm=dimm, console_evidence=())


def _block(index: int, start: int, ok: bool, error: str) -> BlockRecord:
    return BlockRecord(block=index, start=start, ok=ok, error=error, pageflags=None)


def model() -> ModelFile:
    """Two nodes; node 1 (4G-6G) hotpluggable but pinned by an initrd reservation; one block
    failed to offline; a DIMM at 8G whose removal failed."""
    hotplug = AddressRange(4 * G, 6 * G)
    reservation = AttributedReservation(
        MemblockRegion(5 * G, 4 * M, 0, 1),
        (ReservationCause(CauseKind.INITRD, "initrd", 5 * G, 5 * G + 4 * M, 9),))
    boot = BootLog(
        source="report-data",
        srat_memory=(SratMemoryLine(line=1, node=0, pxm=0, start=0, end=640 * K),
                     SratMemoryLine(line=2, node=0, pxm=0, start=M, end=3 * G),
                     SratMemoryLine(line=3, node=1, pxm=1, start=4 * G, end=6 * G, hotplug=True)),
        e820=(E820Entry(0, 639 * K, E820Type.RAM, "usable"), E820Entry(4 * G, 6 * G, E820Type.RAM, "usable")),
        zone_ranges=(ZoneRange("DMA", 4 * K, 16 * M), ZoneRange("Normal", 4 * G, 6 * G),
                     ZoneRange("Device", None, None)),
        movable_zone_start={1: 5 * G},
        initmem={0: AddressRange(0, 3 * G), 1: AddressRange(4 * G, 6 * G)},
        memory_block_size=128 * M)
    finding = NodeHotplugFinding(1, (hotplug,), HotplugStatus.CLEARED,
                                 (MemblockRegion(hotplug.start, hotplug.size, 0, 1),), ())
    d0 = DimmRecord(id="d0", start=8 * G, end=8 * G + 256 * M)
    actions = (
        action("offline-n1", "offline_node", "failure",
               blocks=(_block(40, 5 * G, False, "EBUSY"), _block(41, 5 * G + 128 * M, True, ""))),
        action("add-d0", "dimm_add", "success", "2 memory blocks appeared at 0x200000000", dimm=d0),
        action("rm-d0", "dimm_remove", "failure", "no DEVICE_DELETED", dimm=d0),
    )
    return model_file(boot, (finding,), (HotplugRangeReservation(1, hotplug, reservation),), actions)


def record(run_id: str, verdict: Verdict, expect: Verdict = Verdict.PASS,
           release: str = "6.1.0-56-amd64", kernel: str = "debian:6.1") -> RunRecord:
    scenario = run_id.split("@")[0]
    failed = ("movable",) if verdict is Verdict.FAIL else ()
    return RunRecord(run_id, kernel, scenario, "default", expect, verdict, release, failed,
                     "; ".join(failed) or ("QEMU died" if verdict is Verdict.ERROR else ""), 1, 9.0)


def result(records: tuple[RunRecord, ...], run_id: str = "t-1", started: str = "2026-11-20T01:00:00+00:00") -> MatrixResult:
    return MatrixResult("t", run_id, started, 20.0, records)


def write_runs(runs_dir: Path, res: MatrixResult) -> None:
    for rec in res.records:
        folder = runs_dir / rec.run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "console.log").write_text("".join(f"line {i}\r\n" for i in range(100)))
        model().write(folder / "model.json")
