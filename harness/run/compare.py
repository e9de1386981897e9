"""``memhp compare``: one scenario on kernel A and kernel B, and what changed between them.

It compares the artifacts two runs wrote (``result.json``, ``model.json``), so it also
works on runs made earlier. B *regresses* when a check that passed on A fails on B. A and
B may be two QEMUs on one kernel release: then what changed is QEMU's doing (``cause``
``qemu``), not a kernel regression, and the text says so.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.meminit_times import compare_init_times
from harness.logparse import BootLog, MemblockAlloc
from harness.run.artifacts import ModelFile, ResultFile, kernel_label
from harness.units import hex_range


@dataclass
class Comparison:
    a: str
    b: str
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)
    hotplug_reservations: dict[str, list[str]] = field(default_factory=dict)
    allocations_moved: list[dict[str, Any]] = field(default_factory=list)
    allocation_counts: list[dict[str, Any]] = field(default_factory=list)
    init_times: list[dict[str, Any]] = field(default_factory=list)  # informational
    verdicts: dict[str, str] = field(default_factory=dict)  # a, b: verdict and error, in words
    cause: str = "kernel"  # "qemu": one kernel release on two QEMUs

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [o for o in self.outcomes if o["a_ok"] and not o["b_ok"]]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "cause": self.cause, "verdicts": self.verdicts,
                "regressed": bool(self.regressions),
                "regressions": self.regressions, "outcomes": self.outcomes, "zones": self.zones,
                "hotplug_reservations": self.hotplug_reservations,
                "allocations_moved": self.allocations_moved,
                "allocation_counts": self.allocation_counts, "init_times": self.init_times}

    def text(self) -> str:
        out = [f"A = {self.a}", f"B = {self.b}"]
        if self.verdicts and self.verdicts["a"] != self.verdicts["b"]:
            out.append(f"  verdict: A {self.verdicts['a']} → B {self.verdicts['b']}")
        regression = "QEMU REGRESSION" if self.cause == "qemu" else "REGRESSION"
        for o in self.outcomes:
            if o["a"] != o["b"] or o["a_ok"] != o["b_ok"]:
                tag = regression if o["a_ok"] and not o["b_ok"] else "changed"
                out.append(f"  {tag}: {o['check']}: A {o['a']!r} ({'ok' if o['a_ok'] else 'FAIL'})"
                           f" → B {o['b']!r} ({'ok' if o['b_ok'] else 'FAIL'})")
        for z in self.zones:
            out.append(f"  zone: {z['what']}: A {z['a']} → B {z['b']}")
        for kind, items in self.hotplug_reservations.items():
            for item in items:
                out.append(f"  reservation in a hotpluggable range {kind}: {item}")
        for m in self.allocations_moved:
            # A kernel may ask the same caller for another size (6.12's NODE_DATA is not
            # page-rounded): both requests are named then.
            size = (f"{m['a_size']} bytes" if m["a_size"] == m["b_size"]
                    else f"{m['a_size']} → {m['b_size']} bytes")
            out.append(f"  allocation moved: {m['caller']} #{m['occurrence']} ({size}): "
                       f"{m['a']} → {m['b']}")
        for c in self.allocation_counts:
            out.append(f"  allocation requests by {c['caller']}: {c['a']} → {c['b']}")
        if len(out) == 2:
            out.append("  no differences")
        elif self.cause == "qemu":
            out.insert(2, "  the same kernel release on two QEMUs: what differs is QEMU's doing, "
                          "not a kernel regression")
        return "\n".join(out[:2] + self._init_lines() + out[2:])

    def _init_lines(self) -> list[str]:
        """Shown whatever changed: informational, so never counted as a difference."""
        out = ["  memory init per node (deferred pages, ms; informational, not a verdict):"]
        for t in self.init_times:
            ratio = "" if t["b_over_a"] is None else f" (B/A x{t['b_over_a']:g})"
            out.append(f"    node {t['node']}: A {t['a_ms']} → B {t['b_ms']}{ratio}")
        return out if self.init_times else []


def _allocations(model: ModelFile) -> dict[tuple[str, int], MemblockAlloc]:
    """Each allocation request keyed by (caller, n-th call of that caller)."""
    seen: Counter[str] = Counter()
    out = {}
    for op in model.boot_log.memblock_allocs:
        caller = op.caller_function or op.caller
        out[(caller, seen[caller])] = op
        seen[caller] += 1
    return out


def _hex_result(op: MemblockAlloc) -> str:
    res = op.result
    return "failed" if res is None else hex_range(res.start, res.end)


def _reservation_keys(model: ModelFile) -> dict[str, str]:
    out = {}
    for item in model.reservations_in_hotplug_ranges:
        region = item.reservation.region
        callers = ", ".join(item.reservation.callers)
        out[callers] = f"[{hex_range(region.base, region.end)}] {callers}"
    return out


def _zone_ranges(log: BootLog) -> str:
    return ", ".join(f"{z.name} " + ("empty" if z.start is None or z.end is None
                                     else f"[{hex_range(z.start, z.end)}]") for z in log.zone_ranges)


def _outcomes(ra: ResultFile, rb: ResultFile) -> list[dict[str, Any]]:
    checks_b = {c.name: c for c in rb.checks}
    out = []
    for ca in ra.checks:
        cb = checks_b.get(ca.name)
        out.append({"check": ca.name, "a": ca.observed, "b": "absent" if cb is None else cb.observed,
                    "a_ok": ca.ok, "b_ok": cb is not None and cb.ok})
    return out


def _zones(la: BootLog, lb: BootLog) -> list[dict[str, Any]]:
    out = []
    for node in sorted(la.movable_zone_start.keys() | lb.movable_zone_start.keys()):
        va, vb = la.movable_zone_start.get(node), lb.movable_zone_start.get(node)
        if va != vb:
            out.append({"what": f"ZONE_MOVABLE start of node {node}",
                        "a": "none" if va is None else f"{va:#x}",
                        "b": "none" if vb is None else f"{vb:#x}"})
    if la.zone_ranges != lb.zone_ranges:
        out.append({"what": "zone ranges", "a": _zone_ranges(la), "b": _zone_ranges(lb)})
    return out


def _models(cmp: Comparison, ma: ModelFile, mb: ModelFile) -> None:
    cmp.zones = _zones(ma.boot_log, mb.boot_log)
    cmp.init_times = compare_init_times(ma.boot_log, mb.boot_log)
    resa, resb = _reservation_keys(ma), _reservation_keys(mb)
    cmp.hotplug_reservations = {
        "new in B": [resb[k] for k in resb if k not in resa],
        "gone in B": [resa[k] for k in resa if k not in resb],
        "moved": [f"{resa[k]} → {resb[k]}" for k in resa if k in resb and resa[k] != resb[k]],
    }
    alla, allb = _allocations(ma), _allocations(mb)
    for key in alla.keys() & allb.keys():
        ra_, rb_ = _hex_result(alla[key]), _hex_result(allb[key])
        if ra_ != rb_:
            cmp.allocations_moved.append({"caller": key[0], "occurrence": key[1],
                                          "a_size": alla[key].size, "b_size": allb[key].size,
                                          "a": ra_, "b": rb_})
    cmp.allocations_moved.sort(key=lambda m: (m["caller"], m["occurrence"]))
    count_a, count_b = Counter(k[0] for k in alla), Counter(k[0] for k in allb)
    cmp.allocation_counts = [{"caller": c, "a": count_a[c], "b": count_b[c]}
                             for c in sorted(count_a.keys() | count_b.keys()) if count_a[c] != count_b[c]]


def _label(name: str, result: ResultFile) -> str:
    qemu = result.info.qemu
    return (f"{name} ({kernel_label(result.kernel, result.release)}"
            + ("" if qemu is None else f", {qemu.label}, machine {qemu.machine}") + ")")


def _verdict(result: ResultFile) -> str:
    return result.verdict.value + (f" ({result.error})" if result.error else "")


def compare_runs(a_dir: Path, b_dir: Path, a_name: str = "A", b_name: str = "B") -> Comparison:
    ra, rb = ResultFile.read(a_dir / "result.json"), ResultFile.read(b_dir / "result.json")
    qa, qb = ra.info.qemu, rb.info.qemu
    two_qemus = qa is not None and qb is not None and (qa.path, qa.version) != (qb.path, qb.version)
    cmp = Comparison(_label(a_name, ra), _label(b_name, rb), _outcomes(ra, rb),
                     verdicts={"a": _verdict(ra), "b": _verdict(rb)},
                     cause="qemu" if two_qemus and ra.release == rb.release else "kernel")
    # A run that ended before the boot was parsed has no model.json: checks only.
    if (a_dir / "model.json").exists() and (b_dir / "model.json").exists():
        _models(cmp, ModelFile.read(a_dir / "model.json"), ModelFile.read(b_dir / "model.json"))
    return cmp


def run_and_compare(scenario: Path, a: tuple[str, str], b: tuple[str, str], out: Path,
                    accel: str = "auto") -> Comparison:
    """Run ``scenario`` on A and B, each a (kernel, QEMU) pair (artifacts in ``out/a``,
    ``out/b``), and compare."""
    from harness.run.runner import RunOptions, run_scenario

    for side, (kernel, qemu) in (("a", a), ("b", b)):
        run_scenario(scenario, RunOptions(kernel=kernel, out_dir=out / side, accel=accel, qemu=qemu))
    return compare_runs(out / "a", out / "b", a[0], b[0])
