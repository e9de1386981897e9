"""memhp's one error tree, and the single place that maps errors and verdicts to exit codes.

    MemhpError
     ├── BadInputError          scenario, log, table or option the user gave is wrong   → exit 2
     │    └── ParseError        a file's bytes or lines do not parse (names file/line/offset)
     ├── InfrastructureError    cannot test: QEMU missing, kernel not obtainable, QEMU died
     │    │                     before the kernel ran                                 → exit 125
     │    ├── QemuLaunchError   QEMU exited or never connected (harness.qemu.machine)
     │    ├── VerificationError  a download failed its signature or checksum (debarchive)
     │    ├── ArchiveUnreachable  Debian's archive cannot be reached (debarchive)
     │    ├── NotInArchive      the archive lacks a file its index named (debarchive)
     │    └── ArtifactWriteError  an artifact could not be written, e.g. a full disk
     │         │                (harness.run.artifacts)
     │         └── UnrecordedRun  … after the verdict, which it carries (harness.run.runner)
     └── GuestError             the guest misbehaved: panic, hang, lost console      → exit 1
          └── GuestGone         the guest stopped answering (harness.guest.agent)

Any other exception that ends a command is a harness bug: 125, could not test.  Ctrl-C
(and SIGTERM, which the CLI turns into it) is never wrapped: 130.

A test whose observations contradict its expectations is not an exception: it is a
verdict (``harness.run.verdict``), exit 1.  Each :class:`Verdict` has the exit code of
the errors it stands for; ``--bisect`` turns 2 into 128 (:meth:`ExitCode.under_bisect`).

``memhp parse`` of a boot log uses the same codes for its hotplug verdict
(``harness.analysis.log_verdict.Outcome``): 0 clean, 1 the hotplug requirement is violated
(a mark cleared, unmovable data in a hotplug range, or no ZONE_MOVABLE for it), 125 the
log does not show enough to tell, 2 not a boot log.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    """Exit statuses; chosen so that ``git bisect run`` can use them directly."""

    PASS = 0
    FAIL = 1
    BAD_INPUT = 2
    CANNOT_TEST = 125
    # Bad input says nothing about the commit under test: >127 makes `git bisect run` stop.
    BISECT_ABORT = 128
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it

    def under_bisect(self) -> ExitCode:
        """The status for ``git bisect run``: bad input aborts the bisection."""
        return ExitCode.BISECT_ABORT if self is ExitCode.BAD_INPUT else self


# A wrong verdict outranks bad input, which outranks could-not-test: the first is news
# about the kernel, the last says nothing about it.
_PRECEDENCE = (ExitCode.FAIL, ExitCode.BAD_INPUT, ExitCode.CANNOT_TEST)


def overall(codes: Iterable[ExitCode]) -> ExitCode:
    """One status for many outcomes (a matrix): the highest-ranking non-zero one, else 0."""
    found = set(codes)
    return next((code for code in _PRECEDENCE if code in found), ExitCode.PASS)


class MemhpError(Exception):
    """Root of every error memhp raises on purpose."""

    exit_code: ExitCode = ExitCode.CANNOT_TEST


class BadInputError(MemhpError):
    """The user's input is wrong; the message names the file and the key, line or offset."""

    exit_code = ExitCode.BAD_INPUT


class ParseError(BadInputError):
    """Bytes or lines that do not parse; ``where`` is e.g. ``srat.aml: offset 0x2c``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


class InfrastructureError(MemhpError):
    """The harness could not test at all (bisect: skip)."""

    exit_code = ExitCode.CANNOT_TEST


class GuestError(MemhpError):
    """The guest panicked, hung or went away: a failed test, with evidence."""

    exit_code = ExitCode.FAIL


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit status for an exception that ended a command."""
    if isinstance(exc, MemhpError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.CANNOT_TEST


class Verdict(str, enum.Enum):
    """How a run ended; the value is what result.json and the reports say."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"        # could not test (infrastructure): bisect skip
    BAD_INPUT = "bad-input"

    @property
    def exit_code(self) -> ExitCode:
        return _VERDICT_EXIT[self]

    @property
    def tested(self) -> bool:
        """The kernel was judged (pass or fail), as opposed to not tested at all."""
        return self in (Verdict.PASS, Verdict.FAIL)

    @classmethod
    def for_error(cls, exc: MemhpError) -> Verdict:
        """The verdict of a run that a memhp error ended: the one with its exit code."""
        return _EXIT_VERDICT[exc.exit_code]


_VERDICT_EXIT = {Verdict.PASS: ExitCode.PASS, Verdict.FAIL: ExitCode.FAIL,
                 Verdict.BAD_INPUT: ExitCode.BAD_INPUT, Verdict.ERROR: ExitCode.CANNOT_TEST}
_EXIT_VERDICT = {code: verdict for verdict, code in _VERDICT_EXIT.items()}
