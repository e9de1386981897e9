"""memhp's one error tree, and the single place that maps errors to exit codes.

    MemhpError
     ├── BadInputError          scenario, log, table or option the user gave is wrong   → exit 2
     │    └── ParseError        a file's bytes or lines do not parse (names file/line/offset)
     ├── InfrastructureError    cannot test: QEMU missing, kernel not obtainable, QEMU died
     │                          before the kernel ran                                 → exit 125
     └── GuestError             the guest misbehaved: panic, hang, lost console      → exit 1

A test whose observations contradict its expectations is not an exception: it is a
verdict (``harness.run.verdict``), exit 1.
"""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit statuses; chosen so that ``git bisect run`` can use them directly."""

    PASS = 0
    FAIL = 1
    BAD_INPUT = 2
    CANNOT_TEST = 125


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
    return ExitCode.CANNOT_TEST
