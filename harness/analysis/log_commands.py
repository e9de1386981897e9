"""The commands that judge a saved boot log (no QEMU): ``memhp parse``, ``replay`` and
``field-compare``; each prints text or JSON and returns its exit status."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.analysis.field_compare import compare_logs, describe_comparison
from harness.analysis.log_verdict import describe_verdict, hotplug_verdict
from harness.analysis.replay import describe_replay, replay
from harness.errors import BadInputError, ExitCode, InfrastructureError
from harness.logparse import BootLog
from harness.logparse.describe import describe_boot_log
from harness.logparse.field_log import load_field_boot_log
from harness.logparse.symbolize import load_table, symbolize_text
from harness.memblock.kernel_engine.build import check_kernel_tree


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


class UnjudgedLog(InfrastructureError):
    """A boot log that shows too little to judge (cut, or nothing of the kind asked): 125."""


def _require_boot_lines(bootlog: BootLog) -> BootLog:
    """Every log command's input is a Linux boot log: an empty file, /etc/hostname or any
    other text is bad input, never an empty (and so 'identical' or 'clean') one."""
    if not (bootlog.kernel_release or bootlog.e820 or bootlog.srat_memory or bootlog.memblock_ops
            or bootlog.memblock_dumps):
        raise BadInputError(f"{bootlog.source}: no Linux boot log lines found (no 'Linux version', "
                            "e820, SRAT or memblock lines)")
    return bootlog


def parse_log(log: Path, symbols: Path | None, as_json: bool, boot: int | None = None) -> int:
    """0 clean, 1 hotplug requirement violated, 125 the log cannot tell, 2 not a boot log."""
    table = load_table(symbols) if symbols is not None else None
    field, bootlog = load_field_boot_log(
        log, boot, None if table is None else (lambda text: symbolize_text(text, table)))
    _require_boot_lines(bootlog)
    verdict = hotplug_verdict(bootlog)
    if as_json:
        _print_json({**field.to_json(), **bootlog.to_json(), "hotplug_verdict": verdict.to_json()})
    else:
        print(describe_boot_log(bootlog))
        print("\n".join(field.describe()))
        print(describe_verdict(verdict))
    return verdict.exit_code


def field_compare(field: Path, replica: Path, as_json: bool, boot: int | None = None) -> int:
    """0 when the replica's SRAT and node ranges are the field's, else 1."""
    field_log, field_boot = load_field_boot_log(field, boot)
    replica_log, replica_boot = load_field_boot_log(replica)
    result = compare_logs(_require_boot_lines(field_boot), _require_boot_lines(replica_boot))
    if not any(r.required for r in result.rows):
        raise UnjudgedLog(f"{field}, {replica}: neither log shows SRAT ranges or node ranges to compare")
    if as_json:
        _print_json({**result.to_json(), "field_read_as": field_log.read_as, "field_boot": field_log.chosen.number})
    else:
        print(f"field read as: {field_log.read_as}" + (
            f"; boot {field_log.chosen.number} of {len(field_log.boots)}" if len(field_log.boots) > 1 else ""))
        print(describe_comparison(result, str(field), str(replica)))
    return ExitCode.PASS if result.identical else ExitCode.FAIL


def replay_log(log: Path, engine: str, tree: Path | None, as_json: bool) -> int:
    """0 when every allocation the log shows is predicted and every later dump agrees; the
    hotplug verdict is printed."""
    if tree is not None:
        check_kernel_tree(tree)
    bootlog = _require_boot_lines(load_field_boot_log(log)[1])
    if bootlog.truncated:
        raise UnjudgedLog(f"{log}: cannot replay a truncated log: {bootlog.truncated}")
    result = replay(bootlog, engine, tree)
    if not result.allocations:
        raise UnjudgedLog(f"{log}: no memblock allocation to check (0 in the log)")
    verdict = hotplug_verdict(bootlog)
    if as_json:
        _print_json({**result.to_json(), "hotplug_verdict": verdict.to_json()})
    else:
        print(describe_replay(result))
        print(describe_verdict(verdict))
    # The status stays the replay's (every address predicted); the verdict is in the output.
    return 0 if result.ok else 1
