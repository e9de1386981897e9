"""``memhp compare``: one scenario on kernel A and kernel B, and what changed between them.

It compares the artifacts two runs wrote (``result.json``, ``model.json``), so it also
works on runs made earlier. B *regresses* when a check that passed on A fails on B.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BadInputError


@dataclass
class Comparison:
    a: str
    b: str
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)
    hotplug_reservations: dict[str, list[str]] = field(default_factory=dict)
    allocations_moved: list[dict[str, Any]] = field(default_factory=list)
    allocation_counts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [o for o in self.outcomes if o["a_ok"] and not o["b_ok"]]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "regressed": bool(self.regressions),
                "regressions": self.regressions, "outcomes": self.outcomes, "zones": self.zones,
                "hotplug_reservations": self.hotplug_reservations,
                "allocations_moved": self.allocations_moved,
                "allocation_counts": self.allocation_counts}

    def text(self) -> str:
        out = [f"A = {self.a}", f"B = {self.b}"]
        for o in self.outcomes:
            if o["a"] != o["b"] or o["a_ok"] != o["b_ok"]:
                tag = "REGRESSION" if o["a_ok"] and not o["b_ok"] else "changed"
                out.append(f"  {tag}: {o['check']}: A {o['a']!r} ({'ok' if o['a_ok'] else 'FAIL'})"
                           f" → B {o['b']!r} ({'ok' if o['b_ok'] else 'FAIL'})")
        for z in self.zones:
            out.append(f"  zone: {z['what']}: A {z['a']} → B {z['b']}")
        for kind, items in self.hotplug_reservations.items():
            for item in items:
                out.append(f"  reservation in a hotpluggable range {kind}: {item}")
        for m in self.allocations_moved:
            out.append(f"  allocation moved: {m['caller']} #{m['occurrence']} ({m['size']} bytes): "
                       f"{m['a']} → {m['b']}")
        for c in self.allocation_counts:
            out.append(f"  allocation requests by {c['caller']}: {c['a']} → {c['b']}")
        if len(out) == 2:
            out.append("  no differences")
        return "\n".join(out)


def _load(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}: cannot read run artifact: {err}") from err
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: not a JSON object")
    return data


def _allocations(model: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """Each allocation request keyed by (caller, n-th call of that caller)."""
    seen: Counter[str] = Counter()
    out = {}
    for op in model.get("boot_log", {}).get("memblock_ops", []):
        if "size" not in op:
            continue
        caller = op.get("caller_function") or op.get("caller", "?")
        out[(caller, seen[caller])] = op
        seen[caller] += 1
    return out


def _hex_result(op: dict[str, Any]) -> str:
    res = op.get("result")
    return "failed" if not res else f"{res['start']:#x}-{res['end'] - 1:#x}"


def _reservation_keys(model: dict[str, Any]) -> dict[str, str]:
    out = {}
    for item in model.get("reservations_in_hotplug_ranges", []):
        res = item["reservation"]
        region = res["region"]
        callers = ", ".join(dict.fromkeys(c["caller"] for c in res["causes"]))
        out[callers] = f"[{region['base']:#x}-{region['base'] + region['size'] - 1:#x}] {callers}"
    return out


def compare_runs(a_dir: Path, b_dir: Path, a_name: str = "A", b_name: str = "B") -> Comparison:
    ra, rb = _load(a_dir, "result.json"), _load(b_dir, "result.json")
    cmp = Comparison(f"{a_name} ({ra.get('kernel')})", f"{b_name} ({rb.get('kernel')})")
    checks_b = {c["name"]: c for c in rb.get("checks", [])}
    for ca in ra.get("checks", []):
        cb = checks_b.get(ca["name"], {"observed": "absent", "ok": False})
        cmp.outcomes.append({"check": ca["name"], "a": ca["observed"], "b": cb["observed"],
                             "a_ok": ca["ok"], "b_ok": cb["ok"]})
    if not (a_dir / "model.json").exists() or not (b_dir / "model.json").exists():
        return cmp
    ma, mb = _load(a_dir, "model.json"), _load(b_dir, "model.json")
    la, lb = ma["boot_log"], mb["boot_log"]
    for node in sorted(set(la["movable_zone_start"]) | set(lb["movable_zone_start"])):
        va, vb = la["movable_zone_start"].get(node), lb["movable_zone_start"].get(node)
        if va != vb:
            cmp.zones.append({"what": f"ZONE_MOVABLE start of node {node}",
                              "a": "none" if va is None else f"{va:#x}",
                              "b": "none" if vb is None else f"{vb:#x}"})
    if la["zone_ranges"] != lb["zone_ranges"]:
        cmp.zones.append({"what": "zone ranges", "a": la["zone_ranges"], "b": lb["zone_ranges"]})
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
                                          "size": allb[key]["size"], "a": ra_, "b": rb_})
    cmp.allocations_moved.sort(key=lambda m: (m["caller"], m["occurrence"]))
    count_a, count_b = Counter(k[0] for k in alla), Counter(k[0] for k in allb)
    cmp.allocation_counts = [{"caller": c, "a": count_a[c], "b": count_b[c]}
                             for c in sorted(count_a.keys() | count_b.keys()) if count_a[c] != count_b[c]]
    return cmp


def run_and_compare(scenario: Path, kernel_a: str, kernel_b: str, out: Path,
                    accel: str = "auto") -> Comparison:
    """Run ``scenario`` on both kernels (artifacts in ``out/a``, ``out/b``) and compare."""
    from harness.run.runner import RunOptions, run_scenario

    for side, kernel in (("a", kernel_a), ("b", kernel_b)):
        run_scenario(scenario, RunOptions(kernel=kernel, out_dir=out / side, accel=accel))
    return compare_runs(out / "a", out / "b", kernel_a, kernel_b)
