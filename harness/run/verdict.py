"""The checks of a run as they are made, its overall verdict, and the summary it prints.

:class:`RunResult` collects; :meth:`RunResult.artifact` is what ``result.json`` holds.
The verdict's exit code comes from ``harness.errors`` (the one mapping).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import ExitCode, Verdict
from harness.run.artifacts import NO_INFO, Check, ResultFile, RunInfo, kernel_label

# The names of the model's checks (informational, beside the verdict) start so.
MODEL_PREFIX = "model agrees: "

__all__ = ["RunResult", "Verdict"]


@dataclass
class RunResult:
    scenario: str
    kernel: str  # the spec as given
    release: str | None = None  # uname -r of that kernel, once it is known
    checks: list[Check] = field(default_factory=list)
    # Model vs observation: reported, never part of the verdict (a model gap is not a
    # kernel regression, and bisection must not blame a commit for it).
    model_checks: list[Check] = field(default_factory=list)
    error: str | None = None
    error_verdict: Verdict | None = None
    info: RunInfo = NO_INFO
    # The run's answer to the project's question in one line, where it has one (a removal
    # of boot memory): printed under the verdict.
    headline: str | None = None
    # Summaries that could not be written (a full disk): the verdict stands, but the
    # process exits 125 and result.json must say the same exit code.
    unwritten: tuple[str, ...] = ()

    def add(self, name: str, expected: str, observed: str, reason: str = "",
            ok: bool | None = None) -> Check:
        """A check; ``ok`` defaults to the words agreeing, give it when they need not."""
        check = Check(name, expected, observed, expected == observed if ok is None else ok, reason)
        self.checks.append(check)
        return check

    def add_model(self, name: str, predicted: str, observed: str, reason: str = "",
                  ok: bool | None = None) -> Check:
        check = Check(name, predicted, observed, predicted == observed if ok is None else ok, reason)
        self.model_checks.append(check)
        return check

    @property
    def verdict(self) -> Verdict:
        if self.error_verdict is not None:
            return self.error_verdict
        return Verdict.PASS if self.checks and all(c.ok for c in self.checks) else Verdict.FAIL

    @property
    def exit_code(self) -> ExitCode:
        """The process's exit: the verdict's, or could not test when a summary is missing."""
        return ExitCode.CANNOT_TEST if self.unwritten else self.verdict.exit_code

    def artifact(self) -> ResultFile:
        return ResultFile(scenario=self.scenario, kernel=self.kernel, release=self.release,
                          verdict=self.verdict, exit_code=self.exit_code, error=self.error,
                          checks=tuple(self.checks), model_checks=tuple(self.model_checks),
                          info=self.info)

    def summary(self) -> str:
        lines = [f"{self.scenario} on {kernel_label(self.kernel, self.release)}: "
                 f"{self.verdict.value.upper()}"]
        if self.headline:
            lines.append(f"  {self.headline}")
        if self.info.judged_on:
            lines.append(f"  judged on the boot in {self.info.judged_on} (only the expectations differ)")
        lines += [_line("ok  " if c.ok else "FAIL", c, "expected") for c in self.checks]
        lines += [f"  reserved in a hotpluggable range: {line}"
                  for line in self.info.reserved_in_hotplug_ranges]
        lines += [f"  virtio-mem: {line}" for line in self.info.virtio_mem]
        if (repeat := self.info.repeat) is not None:
            lines.append(f"  repetitions: {repeat.totals()} (boot {repeat.boot_seconds:.1f} s, "
                         f"save {repeat.save_seconds:.1f} s, {repeat.state_bytes >> 20} MiB, {repeat.migration})")
            lines += [f"  refused: {line}" for line in repeat.refusals]
        # "model ok   ZONE_MOVABLE of node 2": the mark already says whose check it is.
        lines += [_line("model " + ("ok  " if c.ok else "DIFF"), c, "predicted", MODEL_PREFIX)
                  for c in self.model_checks]
        lines += [f"  console: {line}" for line in self.info.unread_lines]
        if (model := self.info.model_agreement) is not None:
            lines += [f"  model {what}: {text}" for what, text in model.summary_lines()]
        if (qemu := self.info.qemu) is not None:
            lines.append(f"  ran on {qemu.label}, machine {qemu.machine}, {self.info.accel}")
            if qemu.chosen:
                lines.append(f"  qemu: {qemu.chosen}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def _line(mark: str, check: Check, wanted: str, prefix: str = "") -> str:
    """What was seen; what was wanted too when the check failed; then why."""
    text = f"  {mark} {check.name.removeprefix(prefix)}: {check.observed}"
    if not check.ok:
        text += f" ({wanted}: {check.expected})"
    return text + (f" — {check.reason}" if check.reason else "")
