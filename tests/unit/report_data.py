"""A small matrix result and model.json for the report tests (no boot needed)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.lab.results import MatrixResult, RunRecord
from harness.run.verdict import Verdict

G, M, K = 1 << 30, 1 << 20, 1 << 10


def model() -> dict[str, Any]:
    """Two nodes; node 1 (4G-6G) hotpluggable but pinned by an initrd reservation; one block
    failed to offline; a DIMM at 8G whose removal failed."""
    hotplug = {"start": 4 * G, "end": 6 * G}
    reservation = {"region": {"base": 5 * G, "size": 4 * M, "flags": 0, "nid": 1},
                   "causes": [{"kind": "initrd", "caller": "initrd", "start": 5 * G,
                               "end": 5 * G + 4 * M, "line": 9}]}
    return {
        "layout": {"srat_ranges": []},
        "boot_log": {
            "srat_memory": [{"node": 0, "start": 0, "end": 640 * K, "hotplug": False},
                            {"node": 0, "start": M, "end": 3 * G, "hotplug": False},
                            {"node": 1, "start": 4 * G, "end": 6 * G, "hotplug": True}],
            "e820": [{"start": 0, "end": 639 * K, "type": "usable"},
                     {"start": 4 * G, "end": 6 * G, "type": "usable"}],
            "zone_ranges": [{"name": "DMA", "start": 4 * K, "end": 16 * M},
                            {"name": "Normal", "start": 4 * G, "end": 6 * G},
                            {"name": "Device", "start": None, "end": None}],
            "movable_zone_start": {"1": 5 * G},
            "initmem": {"0": {"start": 0, "end": 3 * G}, "1": {"start": 4 * G, "end": 6 * G}},
            "memory_block_size": 128 * M,
        },
        "hotplug_findings": [{"node": 1, "hotplug_ranges": [hotplug], "status": "cleared",
                              "memory": [{"base": hotplug["start"], "size": hotplug["end"] - hotplug["start"],
                                          "flags": 0, "nid": 1}]}],
        "reservations_in_hotplug_ranges": [{"hotplug_node": 1, "hotplug_range": hotplug,
                                            "reservation": reservation}],
        "guest": {"after": {"blocks": [{"phys_index": 64, "state": "online"}]}},
        "actions": [
            {"id": "offline-n1", "do": "offline_node", "observed": "failure", "reason": "",
             "blocks": [{"block": 40, "start": 5 * G, "ok": False, "error": "EBUSY"},
                        {"block": 41, "start": 5 * G + 128 * M, "ok": True, "error": ""}]},
            {"id": "add-d0", "do": "dimm_add", "observed": "success", "blocks": [],
             "reason": "2 memory blocks appeared at 0x200000000",
             "dimm": {"id": "d0", "start": 8 * G, "end": 8 * G + 256 * M}},
            {"id": "rm-d0", "do": "dimm_remove", "observed": "failure", "blocks": [],
             "reason": "no DEVICE_DELETED",
             "dimm": {"id": "d0", "start": 8 * G, "end": 8 * G + 256 * M}},
        ],
    }


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
        (folder / "model.json").write_text(json.dumps(model()))
