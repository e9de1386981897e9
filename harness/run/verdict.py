"""Checks (expected vs observed) and the overall verdict of a run; its exit code comes from
``harness.errors`` (the one mapping)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import Verdict

__all__ = ["Check", "RunResult", "Verdict"]


@dataclass(frozen=True)
class Check:
    name: str
    expected: Any
    observed: Any
    ok: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected, "observed": self.observed,
                "ok": self.ok, "reason": self.reason}


@dataclass
class RunResult:
    scenario: str
    kernel: str
    checks: list[Check] = field(default_factory=list)
    # Model vs observation: reported, never part of the verdict (a model gap is not a
    # kernel regression, and bisection must not blame a commit for it).
    model_checks: list[Check] = field(default_factory=list)
    error: str | None = None
    error_verdict: Verdict | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, expected: Any, observed: Any, reason: str = "",
            ok: bool | None = None) -> Check:
        check = Check(name, expected, observed, expected == observed if ok is None else ok, reason)
        self.checks.append(check)
        return check

    def add_model(self, name: str, predicted: Any, observed: Any, reason: str = "") -> Check:
        check = Check(name, predicted, observed, predicted == observed, reason)
        self.model_checks.append(check)
        return check

    @property
    def verdict(self) -> Verdict:
        if self.error_verdict is not None:
            return self.error_verdict
        return Verdict.PASS if self.checks and all(c.ok for c in self.checks) else Verdict.FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "kernel": self.kernel, "verdict": self.verdict.value,
            "exit_code": int(self.verdict.exit_code), "error": self.error,
            "checks": [c.to_json() for c in self.checks],
            "model_checks": [c.to_json() for c in self.model_checks], "info": self.info,
        }

    def summary(self) -> str:
        lines = [f"{self.scenario} on {self.kernel}: {self.verdict.value.upper()}"]
        for check in self.checks:
            mark = "ok  " if check.ok else "FAIL"
            detail = f" — {check.reason}" if check.reason else ""
            lines.append(f"  {mark} {check.name}: expected {check.expected!r}, "
                         f"observed {check.observed!r}{detail}")
        for line in self.info.get("reserved_in_hotplug_ranges", []):
            lines.append(f"  reserved in a hotpluggable range: {line}")
        for check in self.model_checks:
            mark = "ok  " if check.ok else "DIFF"
            lines.append(f"  model {mark} {check.name}: predicted {check.expected!r}, "
                         f"observed {check.observed!r}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)
