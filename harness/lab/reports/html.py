"""A static HTML report of a matrix: the runs, each with its memory map, and the history
trend. One self-contained file; links to each run's artifacts are relative."""
from __future__ import annotations

from html import escape
from pathlib import Path

from harness.errors import BadInputError, Verdict
from harness.lab.history import QemuDifference, Trend
from harness.lab.reports.memmap_svg import memmap_svg
from harness.lab.results import CellStatus, MatrixResult, RunRecord
from harness.run.artifacts import ModelFile

ARTIFACTS = ("console.log", "model.json", "result.json", "qmp.jsonl", "agent.log", "memhp-run.log")
_COLOR = {Verdict.PASS: "#2d6a4f", Verdict.FAIL: "#9d0208", Verdict.ERROR: "#e85d04",
          Verdict.BAD_INPUT: "#6c757d"}
_CSS = """
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}
tr.unexpected{background:#ffe5e5}.v{color:#fff;padding:1px 5px;border-radius:3px}
.sq{display:inline-block;width:12px;height:12px;margin-right:1px;border:1px solid #333}
.sq.ok{opacity:.55}details{margin:.6em 0}summary{cursor:pointer;font-weight:bold}
"""


def _verdict(v: Verdict) -> str:
    return f'<span class="v" style="background:{_COLOR[v]}">{v.value}</span>'


def _seconds(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}"


def _status(record: RunRecord) -> str:
    return "" if record.status is CellStatus.FINISHED else f" ({record.status.value})"


def _links(run_dir: Path, rel: str) -> str:
    return " ".join(f'<a href="{escape(rel)}/{name}">{name}</a>' for name in ARTIFACTS
                    if (run_dir / name).exists())


def _row(record: RunRecord, runs_dir: Path) -> str:
    cls = "" if record.ok else ' class="unexpected"'
    cells = [f'<a href="#{escape(record.run_id)}">{escape(record.scenario)}</a>',
             escape(record.kernel), escape(record.release or "?"), _qemu(record), escape(record.variant),
             record.expect.value, _verdict(record.verdict) + _status(record),
             "yes" if record.ok else "<b>NO</b>",
             escape(record.reason) + (f"<br>repetitions: {escape(record.repeat)}" if record.repeat else "")
             + (f"<br>{escape(record.shared)}" if record.shared else ""),
             _seconds(record.boot_seconds), _seconds(record.action_seconds),
             f"{record.seconds:.0f}", str(record.attempts),
             _links(runs_dir / record.run_id, f"runs/{record.run_id}")]
    return f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _qemu(record: RunRecord) -> str:
    machine = f"<br>{escape(record.machine)}, {escape(record.accel or '?')}" if record.machine else ""
    return escape(record.qemu_shown) + machine


def _memmap_body(run_dir: Path) -> str:
    """The map, or why there is none: one unreadable model.json must not cost the report."""
    path = run_dir / "model.json"
    if not path.exists():
        return "<p>no model.json: the run did not get that far</p>"
    try:
        return memmap_svg(ModelFile.read(path))
    except BadInputError as err:
        return f"<p>no memory map: {escape(str(err))}</p>"


def _memmap(record: RunRecord, runs_dir: Path) -> str:
    body = _memmap_body(runs_dir / record.run_id)
    return (f'<details id="{escape(record.run_id)}" open><summary>{escape(record.run_id)} '
            f"{_verdict(record.verdict)}</summary>{body}</details>")


def _trends(trends: list[Trend]) -> str:
    rows = []
    for t in trends:
        squares = "".join(
            f'<span class="sq{" ok" if o.ok else ""}" style="background:{_COLOR[o.verdict]}" '
            f'title="{escape(o.date[:16])} {escape(o.release or "?")}: {o.verdict.value}'
            f'{"" if o.ok else " (unexpected)"}"></span>' for o in t.outcomes)
        rows.append(f"<tr><td>{escape(t.scenario)}</td><td>{escape(t.kernel)}</td>"
                    f"<td>{escape(t.qemu)}</td><td>{escape(t.variant)}</td><td>{squares}</td></tr>")
    return ("<h2>Trend</h2><p>oldest → newest; faded = the expected verdict</p><table>"
            "<tr><th>scenario</th><th>kernel</th><th>QEMU</th><th>variant</th><th>history</th></tr>"
            + "".join(rows) + "</table>")


def _differences(found: list[QemuDifference]) -> str:
    """One kernel release, another outcome on another QEMU: QEMU's doing, not the kernel's."""
    rows = "".join(f"<tr><td>{escape(d.scenario)}</td><td>{escape(d.release)}</td><td>"
                   + "<br>".join(f"{escape(q)}: {_verdict(v)}{'' if ok else ' (unexpected)'}"
                                 for q, v, ok in d.outcomes) + "</td></tr>" for d in found)
    return ("<h2>QEMU differences</h2><p>the same scenario and kernel release, another outcome "
            "on another QEMU: not the kernel's doing</p><table><tr><th>scenario</th>"
            "<th>kernel release</th><th>latest outcome per QEMU</th></tr>" + rows + "</table>")


def render_html(result: MatrixResult, runs_dir: Path, trends: list[Trend] | None,
                differences: list[QemuDifference] | None = None) -> str:
    bad = sum(not r.ok for r in result.records)
    head = ("<tr>" + "".join(f"<th>{h}</th>" for h in (
        "scenario", "kernel", "release", "QEMU", "variant", "expected", "verdict", "as expected",
        "reason", "boot s", "actions s", "cell s", "attempts", "artifacts")) + "</tr>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>memhp {escape(result.run_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>memhp matrix {escape(result.name)}</h1>",
        f"<p>{escape(result.started[:19])} UTC, {len(result.records)} runs in "
        f"{result.seconds:.0f} s, <b>{bad} unexpected</b>"
        + (" — <b>interrupted</b>: cells marked interrupted were stopped, not-run ones never "
           "started" if result.interrupted else "") + "</p>",
        "<table>" + head + "".join(_row(r, runs_dir) for r in result.records) + "</table>",
        _trends(trends) if trends else "",
        _differences(differences) if differences else "",
        "<h2>Memory maps</h2>", *(_memmap(r, runs_dir) for r in result.records),
        "</body></html>"])


def write_html(result: MatrixResult, runs_dir: Path, path: Path,
               trends: list[Trend] | None = None, differences: list[QemuDifference] | None = None) -> None:
    path.write_text(render_html(result, runs_dir, trends, differences), encoding="utf-8")
