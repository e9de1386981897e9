"""The memory-hotplug selftest's output as TAP: one test per step it takes.

``tools/testing/selftests/memory-hotplug/mem-on-off-test.sh`` prints no TAP itself (the
kselftest runner only wraps its exit status: 0 pass, 4 skip). Its own lines say what each
step did: ``offline->online memoryN`` (an error line ``…_expect_success N: unexpected …``
follows on failure), ``online->offline memoryN`` then ``-> Success``/``-> Failure`` (a
refused block is tolerated: only the ratio's target counts, ``FAILED - unable to offline
some memory blocks``), ``skip all tests:``/``skip extra tests:`` with the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

KSFT_SKIP = 4  # tools/testing/selftests/kselftest.h

_ONLINE = re.compile(r"^offline->online memory(\d+)$")
_OFFLINE = re.compile(r"^online->offline memory(\d+)$")
_UNEXPECTED = re.compile(r"^\S*_expect_\w+ (\d+): (unexpected \w+)$")
_SKIP = re.compile(r"^skip (all|extra) tests: (.*)$")


@dataclass(frozen=True)
class TapTest:
    name: str
    ok: bool
    directive: str = ""  # "SKIP reason" or "TODO reason" (a tolerated refusal)

    def line(self, number: int) -> str:
        status = "ok" if self.ok else "not ok"
        return f"{status} {number} - {self.name}" + (f" # {self.directive}" if self.directive else "")

    @property
    def failed(self) -> bool:  # TAP: a TODO test's failure is not a failure
        return not self.ok and not self.directive.startswith("TODO")


def _steps(lines: list[str]) -> list[TapTest]:
    tests: list[TapTest] = []
    for i, line in enumerate(lines):
        after = lines[i + 1] if i + 1 < len(lines) else ""
        if m := _ONLINE.match(line):
            error = _UNEXPECTED.match(after)
            name = f"online memory{m[1]}" + (f": {error[2]}" if error else "")
            tests.append(TapTest(name, error is None))
        elif m := _OFFLINE.match(line):
            ok = after == "-> Success"
            tests.append(TapTest(f"offline memory{m[1]}", ok,
                                 "" if ok else "TODO refused; the selftest tolerates it"))
    return tests


def selftest_tap(output: str, status: int, timed_out: bool) -> list[TapTest]:
    """Every step, then the phases the script judges as a whole, then its exit status."""
    lines = [line.strip() for line in output.splitlines()]
    tests = _steps(lines)
    skips = [_SKIP.match(line) for line in lines]
    for m in (m for m in skips if m):
        scope = "all tests" if m[1] == "all" else "notifier error injection tests"
        tests.append(TapTest(scope, True, f"SKIP {m[2]}"))
    if any(line.startswith("SKIPPED - no hot-pluggable memory in offline state") for line in lines):
        tests.append(TapTest("online the blocks found offline", True, "SKIP none was offline"))
    if any(line.startswith("trying to offline") for line in lines):
        short = any("FAILED - unable to offline" in line for line in lines)
        tests.append(TapTest("offline the ratio's target of blocks", not short))
    if timed_out:
        tests.append(TapTest("mem-on-off-test.sh finished", False, ""))
    elif status == KSFT_SKIP:
        tests.append(TapTest("mem-on-off-test.sh exit status", True, "SKIP exit 4"))
    else:
        tests.append(TapTest(f"mem-on-off-test.sh exit status {status}", status == 0))
    return tests


def tap_text(tests: list[TapTest]) -> str:
    return "\n".join(["TAP version 13", f"1..{len(tests)}",
                      *(t.line(i) for i, t in enumerate(tests, 1))]) + "\n"
