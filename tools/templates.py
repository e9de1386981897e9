"""Write ``harness/analysis/templates.json``, the size templates ``memhp simulate`` reads.

    .venv/bin/python -m tools.templates [OUT]      # default: the shipped templates.json

One entry per recorded QEMU three-node boot, ``fixtures/logs/qemu-<series>-three-node*.log``
for each profile series of kernels.profile that has one (the oldest must): its series, its direction (``movable_node``) and the facts ``template_from_log``
reads from it.  A wheel has no fixtures/, so the facts travel as package data;
tests/unit/test_simulate_templates.py checks that the shipped file equals what the logs give.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from harness.analysis.replay import movable_node_of
from harness.analysis.simulate_boot import TEMPLATES, template_from_log
from harness.errors import BadInputError, MemhpError
from harness.logparse import load_boot_log
from kernels.profile import PROFILES

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
COMMAND = "python -m tools.templates"


def templates_from_logs() -> dict[str, Any]:
    """What templates.json must hold; sources are named from the checkout's root, so the
    file does not depend on where the tree is."""
    entries = []
    for profile in PROFILES:
        pattern = f"qemu-{profile.series}-three-node*.log"
        paths = sorted(LOGS.glob(pattern))
        if not paths and profile is PROFILES[0]:
            raise BadInputError(f"{LOGS}: no {pattern} (the templates come from a checkout's logs)")
        for path in paths:
            log = load_boot_log(path)
            template = dataclasses.replace(template_from_log(log), source=f"fixtures/logs/{path.name}")
            entries.append({"version": profile.series, "movable_node": movable_node_of(log),
                            "template": dataclasses.asdict(template)})
    return {"generated_by": COMMAND, "templates": entries}


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else TEMPLATES
    try:
        text = render(templates_from_logs())
    except MemhpError as err:
        print(f"templates: {err}", file=sys.stderr)
        return 2
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
