"""Several boots in one pasted log (a syslog, ``journalctl -k`` without ``-b``).

A boot starts at journalctl's ``-- Boot … --`` marker or at the kernel's banner
(``Linux version …``, init/main.c start_kernel's first line).  Not where the clock goes
back: a secondary CPU prints with its own clock before the clocks are synchronised
(``calibrate_delay_direct() failed`` at 0.22 s after lines at 3.37 s, a recorded 6.1 boot).
Each boot is judged on its own: two boots' SRAT, zone and memblock lines never go into
one model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.forms import KernelLine, Reading

_BANNER = "Linux version "
_FRACTION = re.compile(r"[.,]\d+")


@dataclass(frozen=True)
class Boot:
    number: int  # 1-based, in file order
    lines: tuple[KernelLine, ...]

    @property
    def first_line(self) -> int:
        return self.lines[0].number

    @property
    def last_line(self) -> int:
        return self.lines[-1].number

    @property
    def release(self) -> str | None:
        banner = next((k.text for k in self.lines if k.text.startswith(_BANNER)), None)
        return banner[len(_BANNER):].split(" ", 1)[0] if banner else None

    def describe(self) -> str:
        """``boot 2: lines 512-1020, Linux 6.1.0-47-amd64, 0.000000-3.210000 s``."""
        release = f"Linux {self.release}" if self.release else "no 'Linux version' line"
        stamps = [k.stamp for k in self.lines if k.stamp is not None]
        walls = [k.wall for k in self.lines if k.wall is not None]
        when = (f", {min(stamps):.6f}-{max(stamps):.6f} s since boot" if stamps
                else f", {walls[0]} - {walls[-1]}" if walls else "")
        return f"boot {self.number}: lines {self.first_line}-{self.last_line}, {release}{when}"

    def text(self, line_count: int, terminated: bool) -> str:
        """This boot as plain dmesg text at the file's line numbers: the other lines are
        left empty, so every line number memhp reports is the pasted file's."""
        rows = [""] * line_count
        for k in self.lines:
            rows[k.number - 1] = k.plain()
        return "\n".join(rows[: self.last_line]) + ("\n" if terminated or self.last_line < line_count else "")


def split_boots(reading: Reading) -> tuple[Boot, ...]:
    """The boots of ``reading`` in file order; boots with no kernel line are dropped."""
    groups: list[list[KernelLine]] = [[]]
    markers = iter(sorted(reading.boot_markers))
    marker = next(markers, None)
    for line in reading.lines:
        new = False
        while marker is not None and marker < line.number:
            new, marker = True, next(markers, None)
        if line.text.startswith(_BANNER) and not _before_banner(groups[-1], line):
            new = True
        if new and groups[-1]:
            groups.append([])
        groups[-1].append(line)
    return tuple(Boot(i, tuple(g)) for i, g in enumerate((g for g in groups if g), start=1))


def _before_banner(group: list[KernelLine], banner: KernelLine) -> bool:
    """Whether ``group`` can be the start of the boot ``banner`` opens: a line printed at
    its moment before it (``microcode: microcode updated early`` precedes the banner at
    0.000000 on a real Dell R820), or words with no clock (a mail's).  A line at a later
    clock, another banner, or another wall-clock second belongs to an earlier boot."""
    for k in group:
        if k.text.startswith(_BANNER):
            return False
        if k.stamp is not None and banner.stamp is not None and k.stamp > banner.stamp:
            return False
        if k.wall is not None and banner.wall is not None and _second(k.wall) != _second(banner.wall):
            return False
    return True


def _second(wall: str) -> str:
    return _FRACTION.sub("", wall)
