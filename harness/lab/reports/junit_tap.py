"""A run's selftest results (TAP, from its ``model.json``) as JUnit testcases of their own:
``classname`` ``<kernel>.<variant>.<scenario>.<action>``, one case per TAP test."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.errors import BadInputError
from harness.lab.results import RunRecord
from harness.run.artifacts import ModelFile


def tap_cases(record: RunRecord, folder: Path) -> list[ET.Element]:
    """Empty when the run wrote no model.json (it ended before) or ran no selftest."""
    try:
        model = ModelFile.read(folder / "model.json")
    except (OSError, BadInputError):
        return []
    cases = []
    for action in model.actions:
        for test in action.command.tap if action.command else ():
            case = ET.Element("testcase", name=test.name,
                              classname=f"{record.kernel}.{record.variant}.{record.scenario}.{action.id}")
            if test.directive.startswith("SKIP"):
                ET.SubElement(case, "skipped", message=test.directive)
            elif test.failed:
                ET.SubElement(case, "failure", message=f"not ok: {test.name}", type="tap")
            elif not test.ok:  # a TODO: TAP does not count it, the report still says so
                ET.SubElement(case, "system-out").text = f"not ok # {test.directive}"
            cases.append(case)
    return cases
