"""JUnit XML of a matrix: one testcase per cell, classname ``<kernel>.<variant>`` (and
``.qemu-<spec>`` on a QEMU other than the system's: the cells of two QEMUs stay apart).

A cell whose verdict is not the expected one is a ``<failure>`` (wrong outcome) or an
``<error>`` (could not test, bad input), with the reason and the console's last lines; a
cell an interrupted matrix stopped or never started is ``<skipped>``."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.lab.reports.junit_tap import tap_cases
from harness.lab.results import CellStatus, MatrixResult, RunRecord

CONSOLE_TAIL_LINES = 40


def console_tail(folder: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    try:
        text = (folder / "console.log").read_text(errors="replace")
    except OSError:
        return "(no console.log)"
    return "\n".join(line.rstrip("\r") for line in text.splitlines()[-lines:])


def _s(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.2f} s"


def _testcase(record: RunRecord, folder: Path) -> ET.Element:
    qemu = "" if record.qemu == "system" else f".qemu-{record.qemu}"
    case = ET.Element("testcase", classname=f"{record.kernel}.{record.variant}{qemu}",
                      name=record.scenario, time=f"{record.seconds:.2f}")
    if record.status is not CellStatus.FINISHED:
        ET.SubElement(case, "skipped", message=f"{record.status.value}: {record.reason}")
    elif not record.ok:
        tag = "failure" if record.verdict.tested else "error"
        message = (f"verdict {record.verdict.value}, expected {record.expect.value}"
                   + (f": {record.reason}" if record.reason else ""))
        node = ET.SubElement(case, tag, message=message, type=record.verdict.value)
        node.text = f"{message}\n\nconsole tail ({folder / 'console.log'}):\n{console_tail(folder)}"
    ET.SubElement(case, "system-out").text = (
        f"release {record.release or '?'}; {record.qemu_shown}"
        + (f", machine {record.machine}, {record.accel}" if record.machine else "")
        + f"; attempts {record.attempts}; boot {_s(record.boot_seconds)}; "
        f"actions {_s(record.action_seconds)}; artifacts {folder}"
        + (f"; repetitions: {record.repeat}" if record.repeat else "")
        + (f"; {record.shared}" if record.shared else ""))
    return case


def junit_xml(result: MatrixResult, runs_dir: Path) -> ET.Element:
    skipped = sum(r.status is not CellStatus.FINISHED for r in result.records)
    failures = sum(not r.ok and r.verdict.tested for r in result.records)
    errors = sum(not r.ok for r in result.records) - failures - skipped
    # selftest actions' TAP results, each a testcase beside its run's (junit_tap)
    taps = [c for r in result.records for c in tap_cases(r, runs_dir / r.run_id)]
    failures += sum(c.find("failure") is not None for c in taps)
    skipped += sum(c.find("skipped") is not None for c in taps)
    suite = ET.Element("testsuite", name=f"memhp.{result.name}",
                       tests=str(len(result.records) + len(taps)), failures=str(failures),
                       errors=str(errors), skipped=str(skipped),
                       time=f"{result.seconds:.2f}", timestamp=result.started[:19])
    for record in result.records:
        suite.append(_testcase(record, runs_dir / record.run_id))
    suite.extend(taps)
    root = ET.Element("testsuites", name=result.run_id)
    root.append(suite)
    return root


def write_junit(result: MatrixResult, runs_dir: Path, path: Path) -> None:
    tree = ET.ElementTree(junit_xml(result, runs_dir))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
