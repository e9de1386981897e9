"""One boot for several matrix cells: ``python -m harness.lab.shared_boot``.

Runs the booting cell's scenario as ``memhp run`` does (its artifacts in its folder), then
judges each other cell's scenario on that boot (:func:`harness.run.runner.judge_on`) into
that cell's folder. A cell that cannot be judged gets a result.json that says why (could
not test). The exit status is the boot's, as ``memhp run``'s; SIGTERM unwinds like Ctrl-C,
so the boot's QEMU goes with the process (harness.lab.cell stops cells so).

    python -m harness.lab.shared_boot --kernel K --accel A --boot-timeout S --boot B \\
        SCENARIO FOLDER [--judge SCENARIO FOLDER]...
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from harness.errors import ExitCode, MemhpError, exit_code_for
from harness.run.artifact_io import ArtifactWriteError
from harness.run.artifacts import ensure_out_dir
from harness.run.runner import RunOptions, error_result, judge_on, run_observed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.lab.shared_boot")
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--accel", required=True)
    parser.add_argument("--boot-timeout", type=float, required=True)
    parser.add_argument("--boot", required=True)
    parser.add_argument("scenario", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--judge", nargs=2, action="append", default=[], type=Path,
                        metavar=("SCENARIO", "FOLDER"))
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds every context manager, which kills the QEMU


def share(args: argparse.Namespace) -> ExitCode:
    options = RunOptions(kernel=args.kernel, out_dir=ensure_out_dir(args.out), accel=args.accel,
                         boot_timeout=args.boot_timeout, boot=args.boot)
    try:
        booted = run_observed(args.scenario, options)
    except ArtifactWriteError as err:
        print(f"memhp: {err}", file=sys.stderr)
        return ExitCode.CANNOT_TEST
    except MemhpError as err:
        error_result(args.scenario.stem, args.kernel, err).artifact().write(args.out / "result.json")
        for scenario, folder in args.judge:
            why = f"could not test: the boot it is judged on ({args.scenario.stem}) ended so: {err}"
            result = error_result(scenario.stem, args.kernel, err)
            result.error = why
            result.artifact().write(ensure_out_dir(folder) / "result.json")
        return exit_code_for(err)
    for scenario, folder in args.judge:
        try:
            judge_on(scenario, booted, folder)
        except MemhpError as err:
            error_result(scenario.stem, args.kernel, err).artifact().write(
                ensure_out_dir(folder) / "result.json")
    return booted.result.verdict.exit_code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(share(args))
    except KeyboardInterrupt:
        print("memhp: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
