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
from harness.errors import BadInputError, ExitCode
from harness.logparse import load_boot_log, parse_boot_log
from harness.logparse.describe import describe_boot_log
from harness.logparse.lines import decode_log
from harness.logparse.symbolize import load_table, symbolize_text


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def parse_log(log: Path, symbols: Path | None, as_json: bool) -> int:
    """0 clean, 1 hotplug requirement violated, 125 the log cannot tell, 2 not a boot log."""
    try:
        data = log.read_bytes()
    except OSError as err:
        raise BadInputError(f"{log}: {err.strerror}") from err
    # Decoded as every memhp reader decodes a log (binary data is one line, exit 2).
    text = decode_log(data, str(log))
    if symbols is not None:
        text = symbolize_text(text, load_table(symbols))
    bootlog = parse_boot_log(text, str(log))
    if not (bootlog.kernel_release or bootlog.e820 or bootlog.srat_memory or bootlog.memblock_ops):
        raise BadInputError(f"{log}: no Linux boot log lines found (no 'Linux version', "
                            "e820, SRAT or memblock lines)")
    verdict = hotplug_verdict(bootlog)
    if as_json:
        _print_json({**bootlog.to_json(), "hotplug_verdict": verdict.to_json()})
    else:
        print(describe_boot_log(bootlog))
        print(describe_verdict(verdict))
    return verdict.exit_code


def field_compare(field: Path, replica: Path, as_json: bool) -> int:
    """0 when the replica's SRAT and node ranges are the field's, else 1."""
    result = compare_logs(load_boot_log(field), load_boot_log(replica))
    if as_json:
        _print_json(result.to_json())
    else:
        print(describe_comparison(result, str(field), str(replica)))
    return ExitCode.PASS if result.identical else ExitCode.FAIL


def replay_log(log: Path, engine: str, tree: Path | None, as_json: bool) -> int:
    """0 when every allocation the log shows is predicted and every later dump agrees; the
    hotplug verdict is printed."""
    bootlog = load_boot_log(log)
    result = replay(bootlog, engine, tree)
    verdict = hotplug_verdict(bootlog)
    if as_json:
        _print_json({**result.to_json(), "hotplug_verdict": verdict.to_json()})
    else:
        print(describe_replay(result))
        print(describe_verdict(verdict))
    # The status stays the replay's (every address predicted); the verdict is in the output.
    return 0 if result.ok else 1
