"""Rewrite the golden ``<name>.expected.json`` next to each recorded boot log.

    .venv/bin/python -m tools.golden fixtures/logs/*.log

The expected file holds the full parse and the pinning verdicts; review its diff like
code.  tests/unit/test_logparse_golden.py compares against it with the same function.
Its ``facts`` header is not the parser's: written by hand from the log's own lines (each
fact cites them), it is kept as it is, and the tests hold the parser to it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.analysis.pinning import hotplug_findings, reservations_in_hotplug_ranges
from harness.errors import MemhpError
from harness.logparse.lines import decode_log
from harness.logparse.parser import parse_boot_log


def expected_path(log: Path) -> Path:
    return log.with_name(log.stem + ".expected.json")


def expected_facts(log: Path) -> dict[str, Any]:
    """The facts a golden test expects from ``log``; ``source`` is the bare file name
    so that the result does not depend on where the tree is checked out."""
    boot = parse_boot_log(decode_log(log.read_bytes(), log.name), log.name)
    return {
        "boot_log": boot.to_json(),
        "hotplug_findings": [f.to_json() for f in hotplug_findings(boot)],
        "reservations_in_hotplug_ranges": [r.to_json() for r in reservations_in_hotplug_ranges(boot)],
    }


# The hand-written header of an expected file (see the module docstring).
FACTS = "facts"


def render(facts: dict[str, Any]) -> str:
    return json.dumps(facts, indent=1, sort_keys=True) + "\n"


def with_header(log: Path, facts: dict[str, Any]) -> dict[str, Any]:
    """``facts`` with the existing expected file's hand-written header, if it has one."""
    path = expected_path(log)
    if path.exists() and FACTS in (old := json.loads(path.read_text())):
        return {**facts, FACTS: old[FACTS]}
    return facts


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name in argv:
        log = Path(name)
        try:
            text = render(with_header(log, expected_facts(log)))
        except (OSError, ValueError, MemhpError) as err:
            print(f"{log}: {err}", file=sys.stderr)
            return 2
        expected_path(log).write_text(text)
        print(f"wrote {expected_path(log)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
