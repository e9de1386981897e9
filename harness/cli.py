"""The ``memhp`` command: parses arguments and dispatches to one public function each.

Exit statuses (also for ``git bisect run``): 0 every outcome matched its expectation,
1 some did not (a guest panic or hang counts here), 2 bad input or usage (128 with
--bisect), 125 could not test (QEMU missing, kernel not obtainable, QEMU died before the
kernel ran, an artifact could not be written), 130 interrupted (``memhp matrix``: its cells
stopped, the partial reports and the history written first).  ``memhp parse`` judges the
log's hotplug ranges instead: 0 clean, 1 hotplug requirement violated, 125 the log cannot
tell, 2 not a boot log.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInputError, ExitCode, MemhpError, exit_code_for
from kernels.kernel import BOOT_MODES

if TYPE_CHECKING:  # imported where used: `memhp parse` need not load the runner
    from harness.run.runner import RunOptions
    from harness.run.verdict import RunResult

EPILOG = __doc__.split("\n\n", 1)[1]


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_run(args: argparse.Namespace) -> ExitCode:
    from harness.paths import ArtifactWriteError
    from harness.run.run_folder import ensure_out_dir
    from harness.run.runner import RunOptions, UnrecordedRun, error_result

    if args.show_command:
        return show_command(args)
    options = RunOptions(kernel=args.kernel, out_dir=args.out or Path("out") / args.scenario.stem,
                         accel=args.accel, boot_timeout=args.boot_timeout, boot=args.boot,
                         qemu=args.qemu)
    # First, so that an unusable --out is one line (no result.json can go there).
    ensure_out_dir(options.out_dir)
    try:
        result = _run_or_error(args, options)
    except ArtifactWriteError as err:
        # A full disk says nothing about the kernel: the verdict reached is shown, the
        # missing artifact named, and the exit is 125 (git bisect: skip).
        reached = err.result if isinstance(err, UnrecordedRun) else None
        _show_result(args, reached or error_result(args.scenario.stem, args.kernel, err),
                     options.out_dir)
        print(f"memhp: {err}", file=sys.stderr)
        return ExitCode.CANNOT_TEST
    _show_result(args, result, options.out_dir)
    return result.verdict.exit_code


def _run_or_error(args: argparse.Namespace, options: RunOptions) -> RunResult:
    """The run's result, or the result of the error that ended it (also in result.json);
    bad input is raised once result.json says so: one line on stderr, as every command."""
    from harness.paths import ArtifactWriteError
    from harness.run.runner import error_result, run_scenario

    try:
        if args.repeat is not None:
            from harness.run.repeat import run_repeated
            return run_repeated(args.scenario, options, args.repeat)
        return run_scenario(args.scenario, options)
    except ArtifactWriteError:
        raise  # its own exit: the verdict reached is kept
    except MemhpError as err:
        result = error_result(args.scenario.stem, args.kernel, err)
        try:
            result.artifact().write(options.out_dir / "result.json")
        except ArtifactWriteError as unwritten:  # one line says both
            raise ArtifactWriteError(unwritten.paths, f"{unwritten.reason} (the run had ended: {err})") from None
        if isinstance(err, BadInputError):
            raise
        return result


def _show_result(args: argparse.Namespace, result: RunResult, out_dir: Path) -> None:
    if args.json:
        _print_json(result.artifact().to_json())
    else:
        print(result.summary())
        print(f"artifacts: {out_dir}")


def show_command(args: argparse.Namespace) -> ExitCode:
    from harness.qemu.accel import choose_accel
    from harness.qemu.cmdline import build_command
    from harness.qemu.machine import Channels
    import kernels
    from harness.run.runner import check_qemu, plan

    planned = plan(args.scenario, args.kernel)  # validates the scenario as a run would
    sock = Path("<private-dir>")
    qemu = check_qemu(args.scenario, planned.scenario, planned.layout, args.qemu).qemu
    argv = build_command(planned.scenario, kernels.boot_image(planned.kernel, args.boot), Path("<out>/initrd.img"),
                         Channels(Path("<out>/console.log"), sock / "agent.sock", sock / "qmp.sock"),
                         choose_accel(args.accel, planned.kernel.bzimage, qemu), qemu, planned.layout)
    print(shlex.join(argv))
    return ExitCode.PASS


def cmd_parse(args: argparse.Namespace) -> int:
    from harness.analysis.log_commands import parse_log

    return parse_log(args.log, args.symbols, args.json, args.boot)


def cmd_field_compare(args: argparse.Namespace) -> int:
    from harness.analysis.log_commands import field_compare

    return field_compare(args.field, args.replica, args.json, args.boot)


def cmd_replay(args: argparse.Namespace) -> int:
    from harness.analysis.log_commands import replay_log

    return replay_log(Path(args.log), args.engine, args.tree, args.json)


def cmd_simulate(args: argparse.Namespace) -> int:
    from harness.analysis.simulate import describe_prediction, simulate_file

    prediction = simulate_file(args.scenario, args.kernel, args.cmdline)
    if args.json:
        _print_json(prediction.to_json())
    else:
        print(describe_prediction(prediction))
    return 0


def cmd_srat_show(args: argparse.Namespace) -> int:
    from acpi_tables.show import format_slit, format_srat, read_table_file
    from acpi_tables.slit import decode_slit
    from acpi_tables.srat import decode_srat

    raw = read_table_file(args.file)
    where = str(args.file)
    if raw[:4] == b"SLIT":
        print(format_slit(decode_slit(raw, where)))
    else:
        print(format_srat(decode_srat(raw, where)))
    return 0


def cmd_srat_build(args: argparse.Namespace) -> int:
    from harness.scenario.layout import compute_layout
    from harness.scenario.schema import load_scenario
    from harness.scenario.tables import srat_bytes
    from harness.userinput import ACPI_TABLE, write_output

    scenario = load_scenario(args.scenario)
    write_output(args.output, srat_bytes(scenario, compute_layout(scenario)), ACPI_TABLE)
    print(f"wrote {args.output}")
    return 0


def cmd_kernels_list(args: argparse.Namespace) -> int:
    import kernels

    if args.available:
        print(kernels.format_available(kernels.available()))
        return 0
    for kernel in kernels.list_kernels():
        print(f"{kernel.spec:<16} {kernel.release:<24} {kernel.bzimage}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from harness.scenario.field_import import import_to_file
    from harness.scenario.field_report import format_table
    from harness.units import parse_size

    try:
        budget = parse_size(args.budget) if args.full_size else None
    except ValueError as err:
        raise BadInputError(f"--budget: {err}") from None
    print(format_table(import_to_file(args.dmesg, args.srat, args.out, budget, args.boot)))
    print(f"scenario: {args.out}")
    return 0


def cmd_kernels_fetch(args: argparse.Namespace) -> int:
    import kernels
    from kernels.modules import KEPT_MODULES

    kernel = kernels.fetch(args.spec)
    print(f"{kernel.spec}: {kernel.release} at {kernel.bzimage}")
    if kernel.source == "debian":
        tree = kernels.module_tree(kernel)
        absent = [n for n in KEPT_MODULES if n not in tree.modular and n not in tree.builtin]
        kept = kernels.needed_modules(kernel, [n for n in KEPT_MODULES if n not in absent])
        print(f"  modules: {' '.join(m.name for m in kept) or 'none (built in)'}")
        if absent:
            print(f"  not in this kernel: {' '.join(absent)}")
    return 0


def cmd_kernels_source(args: argparse.Namespace) -> int:
    from kernels.source import source_tree

    print(f"linux-source-{args.series}: {source_tree(args.series)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.run.compare import run_and_compare

    kernels, qemus = args.kernel or ["debian:6.1"], args.qemu or ["system"]
    if len(kernels) > 2 or len(qemus) > 2 or len(kernels) * len(qemus) != 2:
        raise BadInputError("compare: give --kernel twice (A, then B) or --qemu twice "
                            "(A, then B, on one kernel)")
    out = args.out or Path("out") / f"compare-{args.scenario.stem}"
    comparison = run_and_compare(args.scenario, (kernels[0], qemus[0]), (kernels[-1], qemus[-1]),
                                 out, args.accel)
    if args.json:
        _print_json(comparison.to_json())
    else:
        print(comparison.text())
    return ExitCode.FAIL if comparison.regressions else ExitCode.PASS


def cmd_matrix(args: argparse.Namespace) -> int:
    from harness.lab.matrix import run_matrix, summary_text
    from harness.lab.results import DEFAULT_HISTORY

    result = run_matrix(args.matrix, args.out, args.workers, args.scheduler,
                        args.db or DEFAULT_HISTORY, qemus=tuple(args.qemu))
    print(summary_text(result))
    if result.interrupted:  # the partial reports and the history are written by now
        print("memhp: interrupted", file=sys.stderr)
    return result.exit_code


def cmd_history(args: argparse.Namespace) -> int:
    from harness.lab.history import format_history

    print(format_history(args.db))
    return 0


def _count(text: str) -> int:
    """A repetition count: an argparse error (exit 2, one line) unless a positive integer."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return int(text)


_BOOT_HELP = "which boot of a log holding several (1 = first; default: the last)"


def _kernel(text: str) -> str:
    """A kernel spec or path: never empty (an empty one would boot the default and record "")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a kernel (debian:6.1, debian:6.12 or a bzImage path), not ''")
    return text


def _seconds(text: str) -> float:
    """A time limit: an argparse error unless a finite number of seconds, at least one."""
    from harness.userinput import number

    try:
        return number(float(text), "seconds", minimum=1)
    except (ValueError, BadInputError) as err:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 1, not {text!r}") from err


_QEMU_HELP = ("system (default: the scenario's machine.qemu if it names one, else "
              "qemu-system-x86_64 on PATH, or this Debian release's backports QEMU when only "
              "that one can run the scenario); debian:<version> (debian:10.0: the "
              "host release's build if any) or debian:<suite> (debian:bookworm-backports), "
              "fetched from Debian's archive, verified and unpacked into the cache; a QEMU "
              "binary; or the root of an unpacked QEMU tree (run with its own -L data and modules)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memhp", description="Linux memory hotplug verifier",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="boot a scenario and judge its outcomes", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("scenario", type=Path)
    run.add_argument("--kernel", default="debian:6.1", type=_kernel,
                     help="debian:6.1 (default), debian:6.12, or a path to a bzImage")
    run.add_argument("--out", type=Path, help="artifact directory (default out/<scenario>)")
    run.add_argument("--json", action="store_true", help="print result.json")
    run.add_argument("--accel", default="auto", help="auto (probe KVM, else TCG), tcg or kvm")
    run.add_argument("--boot-timeout", type=_seconds, default=180.0)
    run.add_argument("--boot", default="bzimage", choices=BOOT_MODES,
                     help="bzimage (default: the real decompressor and setup path), or pvh: QEMU "
                          "enters the kernel's vmlinux at its PVH entry, seconds faster under TCG "
                          "(needs CONFIG_PVH; no decompressor, a PVH memory map)")
    run.add_argument("--repeat", type=_count, default=None, metavar="N",
                     help="boot once, save the guest, and run the actions N times, each in a "
                          "QEMU restored from the save (rep-NN/ folders); any failed repetition fails")
    run.add_argument("--bisect", action="store_true",
                     help="for git bisect run: 0 good, 1 bad, 125 skip; bad input exits 128 "
                          "so the bisection stops instead of marking the commit bad")
    run.add_argument("--show-command", action="store_true", help="print the QEMU command line and exit")
    run.add_argument("--qemu", default="system", metavar="PATH|SPEC", help=_QEMU_HELP)
    run.set_defaults(func=cmd_run)

    parse = sub.add_parser("parse", help="parse a saved boot log and judge its hotplug ranges: exit 0 "
                           "clean, 1 hotplug requirement violated, 125 the log cannot tell")
    parse.add_argument("log", type=Path, help="the log in any form dmesg, journalctl or syslog print, "
                       "quoted or compressed; - reads standard input")
    parse.add_argument("--boot", type=int, metavar="N", help=_BOOT_HELP)
    parse.add_argument("--json", action="store_true")
    parse.add_argument("--symbols", type=Path, help="System.map or vmlinux to name raw-address "
                       "callers (kernels without KALLSYMS)")
    parse.set_defaults(func=cmd_parse)

    srat = sub.add_parser("srat", help="read or build SRAT tables").add_subparsers(
        dest="srat_command", required=True)
    show = srat.add_parser("show", help="print a table (binary, acpidump text or iasl source)")
    show.add_argument("file", type=Path)
    show.set_defaults(func=cmd_srat_show)
    build = srat.add_parser("build", help="write the override SRAT of a scenario")
    build.add_argument("scenario", type=Path)
    build.add_argument("-o", "--output", type=Path, required=True)
    build.set_defaults(func=cmd_srat_build)

    kern = sub.add_parser("kernels", help="list or fetch kernels").add_subparsers(
        dest="kernels_command", required=True)
    listing = kern.add_parser("list", help="cached kernels; --available: what Debian's archive offers")
    listing.add_argument("--available", action="store_true")
    listing.set_defaults(func=cmd_kernels_list)
    fetch = kern.add_parser("fetch")
    fetch.add_argument("spec")
    fetch.set_defaults(func=cmd_kernels_fetch)
    source = kern.add_parser("source", help="fetch and unpack Debian's linux-source-SERIES (verified)")
    source.add_argument("series", help="e.g. 6.12")
    source.set_defaults(func=cmd_kernels_source)

    comp = sub.add_parser("compare", help="run a scenario on kernels A and B and report what "
                          "changed; exit 1 when B regresses")
    comp.add_argument("scenario", type=Path)
    comp.add_argument("--kernel", action="append", default=[], type=_kernel, help="give twice: A then B")
    comp.add_argument("--out", type=Path, help="artifacts (default out/compare-<scenario>/{a,b})")
    comp.add_argument("--json", action="store_true")
    comp.add_argument("--accel", default="auto")
    comp.add_argument("--qemu", action="append", default=[], metavar="PATH|SPEC",
                      help="once: both sides; twice: A then B on one --kernel. " + _QEMU_HELP)
    comp.set_defaults(func=cmd_compare)

    matrix = sub.add_parser("matrix", help="run kernels x scenarios x cmdline variants, "
                            "write JUnit/JSON/HTML reports and record the history")
    matrix.add_argument("matrix", type=Path, nargs="?",
                        help="matrix file (default fixtures/matrix/nightly.toml)")
    matrix.add_argument("--workers", type=_count, help="parallel runs here (default one per core)")
    matrix.add_argument("--out", type=Path, help="output folder (default out/matrix/<name>)")
    matrix.add_argument("--scheduler", help="tcp://HOST:PORT of a Dask scheduler to run on")
    matrix.add_argument("--db", type=Path, help="history database (default out/history.sqlite)")
    matrix.add_argument("--qemu", action="append", default=[], metavar="PATH|SPEC",
                        help="run every cell on this QEMU (give it again for more: replaces the "
                             "file's qemus axis). " + _QEMU_HELP)
    matrix.set_defaults(func=cmd_matrix)
    history = sub.add_parser("history", help="trends, first failing kernel, flaky runs")
    history.add_argument("--db", type=Path, help="history database (default out/history.sqlite)")
    history.set_defaults(func=cmd_history)
    imp = sub.add_parser("import", help="turn a field boot log and/or SRAT into a scaled-down scenario")
    imp.add_argument("--dmesg", type=Path, help="the field machine's boot log")
    imp.add_argument("--boot", type=int, metavar="N", help=_BOOT_HELP)
    imp.add_argument("--srat", type=Path, help="its SRAT (binary, acpidump text or iasl source)")
    imp.add_argument("-o", "--out", type=Path, required=True, help="scenario file to write")
    imp.add_argument("--full-size", action="store_true",
                     help="a replica at the field's own addresses and sizes when it fits the budget")
    imp.add_argument("--budget", default="128G", help="most guest RAM a full-size replica may have")
    imp.set_defaults(func=cmd_import)
    fcm = sub.add_parser("field-compare", help="a field log against its replica's boot log, range by range "
                         "(exit 0 SRAT and node ranges identical, 1 not)")
    fcm.add_argument("field", type=Path)
    fcm.add_argument("replica", type=Path)
    fcm.add_argument("--json", action="store_true")
    fcm.add_argument("--boot", type=int, metavar="N", help=_BOOT_HELP)
    fcm.set_defaults(func=cmd_field_compare)
    rep = sub.add_parser("replay", help="replay a memblock=debug boot log and check every allocation")
    rep.add_argument("log")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--engine", choices=("python", "kernel"), default="python")
    rep.add_argument("--tree", type=Path, help="kernel source tree whose mm/memblock.c the kernel "
                     "engine runs (e.g. a patched tree); default: Debian's linux-source")
    rep.set_defaults(func=cmd_replay)
    sim = sub.add_parser("simulate", help="predict a scenario's zones and hotplug outcomes without booting")
    sim.add_argument("scenario")
    sim.add_argument("--kernel", default="debian:6.1", type=_kernel)
    sim.add_argument("--cmdline", default="", help="appended to the scenario's command line")
    sim.add_argument("--json", action="store_true")
    sim.set_defaults(func=cmd_simulate)
    return parser


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C so every context manager kills its QEMU.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) and int(ExitCode.BAD_INPUT)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    # Everything memhp and its QEMU create is private (harness.paths says why): also the
    # files others write for it (QEMU's console.log, cpio's image, gcc's engine); restored
    # after, for a caller that runs main() in its own process (tests).
    umask = os.umask(0o077)
    try:
        code = int(args.func(args))
    except MemhpError as err:
        print(f"memhp: {err}", file=sys.stderr)
        code = exit_code_for(err)
    except KeyboardInterrupt as interrupt:
        print("memhp: interrupted", file=sys.stderr)
        return int(exit_code_for(interrupt))
    except BrokenPipeError:
        # `memhp … | head`: the reader left; say nothing more and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        os.umask(umask)
    if getattr(args, "bisect", False):  # `memhp run --bisect`, also when it ends in an error
        return int(ExitCode(code).under_bisect())
    return code


if __name__ == "__main__":
    sys.exit(main())
