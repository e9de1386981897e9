"""What a matrix ends with: one :class:`RunRecord` per cell and the :class:`MatrixResult`.

Shared by the cell runners, the history and the reports, so none of them needs the matrix
driver (``harness.lab.matrix``) that produces them.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ExitCode, Verdict, overall
from harness.lab.spec import RunSettings, RunSpec

DEFAULT_HISTORY = Path("out") / "history.sqlite"
SAVED_BOOT = "its boot saved"  # how the record of a boot that other cells restored starts


class CellStatus(str, enum.Enum):
    """Whether a cell ran to its end; an interrupted or unstarted cell has no verdict about
    the kernel (its ``verdict`` is ``error``) and stays out of the history."""

    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C/SIGTERM of the matrix; artifacts kept
    NOT_RUN = "not-run"  # the matrix was interrupted before the cell started


@dataclass(frozen=True)
class RunRecord:
    """What one cell ended with; ``ok`` when the verdict is the one the cell expects."""

    run_id: str
    kernel: str
    scenario: str
    variant: str
    expect: Verdict
    verdict: Verdict
    release: str | None
    failed_checks: tuple[str, ...]
    reason: str
    attempts: int
    seconds: float  # the whole cell, all attempts' process time included
    status: CellStatus = CellStatus.FINISHED
    boot_seconds: float | None = None  # from result.json: QEMU start to the guest's agent
    action_seconds: float | None = None  # the scenario's actions
    false_claims: tuple[str, ...] = ()  # a must-fail cell: the checks it must fail, exactly
    repeat: str | None = None  # memhp run --repeat: "K pass, M fail of N; refusals"
    qemu: str = "system"  # the cell's --qemu
    # From result.json: the QEMU that ran ("QEMU 10.0.2 (Debian 1:10.0.2+ds-…)"), the machine
    # type ``pc`` resolved to, and the accelerator; None when the run ended before QEMU ran.
    qemu_version: str | None = None
    machine: str | None = None
    accel: str | None = None

    @property
    def qemu_shown(self) -> str:
        """The QEMU as the reports and the history name it: what ran, else what was asked."""
        return self.qemu_version or (f"QEMU {self.qemu}" if self.qemu != "system" else "system QEMU")
    # Whose boot the cell had (harness.lab.sharing): "judged on <run_id>'s boot", "restored
    # from <run_id>'s saved boot", or the booting cell's "its boot saved, restored by N runs".
    shared: str | None = None

    @property
    def ok(self) -> bool:
        if self.verdict is not self.expect or self.status is not CellStatus.FINISHED:
            return False
        return not self.false_claims or set(self.failed_checks) == set(self.false_claims)

    @property
    def booted(self) -> bool:
        """Whether the cell's run booted a kernel of its own (shared with other cells or not)."""
        return self.status is not CellStatus.NOT_RUN and (
            self.shared is None or self.shared.startswith(SAVED_BOOT))

    @property
    def exit_code(self) -> ExitCode:
        """0 as expected; else 1 for a wrong pass/fail, or the code of the error verdict."""
        if self.ok:
            return ExitCode.PASS
        return ExitCode.FAIL if self.verdict.tested else self.verdict.exit_code

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kernel": self.kernel, "scenario": self.scenario,
                "variant": self.variant, "expect": self.expect.value,
                "verdict": self.verdict.value, "ok": self.ok, "release": self.release,
                "failed_checks": list(self.failed_checks), "reason": self.reason,
                "attempts": self.attempts, "seconds": round(self.seconds, 2),
                "status": self.status.value, "boot_seconds": _rounded(self.boot_seconds),
                "action_seconds": _rounded(self.action_seconds),
                "false_claims": list(self.false_claims), "repeat": self.repeat,
                "qemu": self.qemu, "qemu_version": self.qemu_version, "machine": self.machine,
                "accel": self.accel, "shared": self.shared}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunRecord":
        return cls(data["run_id"], data["kernel"], data["scenario"], data["variant"],
                   Verdict(data["expect"]), Verdict(data["verdict"]), data["release"],
                   tuple(data["failed_checks"]), data["reason"], data["attempts"],
                   data["seconds"], CellStatus(data.get("status", CellStatus.FINISHED.value)),
                   data.get("boot_seconds"), data.get("action_seconds"),
                   tuple(data.get("false_claims", ())), data.get("repeat"), data.get("qemu", "system"),
                   data.get("qemu_version"), data.get("machine"), data.get("accel"), data.get("shared"))


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 2)


# A run function does one attempt of a cell into a folder and returns what it ended with.
RunFn = Callable[[RunSpec, Path, RunSettings], RunRecord]


@dataclass(frozen=True)
class MatrixResult:
    name: str
    run_id: str  # this execution of the matrix, e.g. nightly-20261122T064100
    started: str  # ISO 8601, UTC
    seconds: float
    records: tuple[RunRecord, ...]
    interrupted: bool = False  # Ctrl-C/SIGTERM: the records are what it had by then

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.records) and not self.interrupted

    @property
    def exit_code(self) -> ExitCode:
        """130 if interrupted, else 1 if a cell reached the wrong verdict, else 2 for bad
        input, else 125 if a cell could not be tested, else 0 (``harness.errors.overall``)."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        return overall(r.exit_code for r in self.records)

    def with_status(self, status: CellStatus) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.records if r.status is status)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.verdict.value] = counts.get(record.verdict.value, 0) + 1
        return {"name": self.name, "run_id": self.run_id, "started": self.started,
                "seconds": round(self.seconds, 2), "ok": self.ok, "verdicts": counts,
                "unexpected": [r.run_id for r in self.records if not r.ok],
                "interrupted": self.interrupted,
                "interrupted_runs": list(self.with_status(CellStatus.INTERRUPTED)),
                "not_run": list(self.with_status(CellStatus.NOT_RUN)),
                "runs": [r.to_json() for r in self.records]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MatrixResult":
        return cls(data["name"], data["run_id"], data["started"], data["seconds"],
                   tuple(RunRecord.from_json(r) for r in data["runs"]),
                   bool(data.get("interrupted", False)))
