"""What ``result.json`` says of ``memhp run --repeat``: every repetition and the totals."""
from __future__ import annotations

from dataclasses import dataclass

from harness.errors import Verdict


@dataclass(frozen=True, kw_only=True)
class Repetition:
    """One repetition of ``memhp run --repeat``: a fresh QEMU restored from the saved guest."""

    index: int  # 1-based; its artifacts are in rep-NN/
    verdict: Verdict
    failed_checks: tuple[str, ...]
    refused: tuple[str, ...]  # "action: reason" of every action that did not succeed
    restore_seconds: float | None  # QEMU start to the restored agent's answer
    action_seconds: float | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class RepeatInfo:
    """Boot once, save the guest (QEMU migration into a file), restore it ``count`` times."""

    count: int
    boot_seconds: float
    save_seconds: float
    state_bytes: int
    repetitions: tuple[Repetition, ...]
    # Per action that did not succeed in some repetition: "ID refused in K of N: reason ×k; …"
    refusals: tuple[str, ...]
    migration: str = "stream"  # how the guest was saved and restored (harness.qemu.migration)

    def totals(self) -> str:
        counts = {v: sum(r.verdict is v for r in self.repetitions) for v in Verdict}
        return ", ".join(f"{n} {v.value}" for v, n in counts.items() if n) + f" of {self.count}"
