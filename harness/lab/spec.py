"""Matrix files: kernels × scenarios × command-line variants, minus exclusions.

A matrix file (TOML)::

    name = "nightly"
    kernels = ["debian:6.1", "debian:6.12"]
    qemus = ["system", "debian:10.0"]          # QEMUs (memhp run --qemu); default ["system"]
    scenarios = ["../scenarios/*.toml"]            # globs, relative to the matrix file
    must_fail = ["../scenarios/must-fail/*.toml"]  # their verdict must be FAIL
    timeout = 600        # seconds per attempt; then the run is stopped (could not test)
    retries = 1          # extra attempts, only after exit 125 (could not test)
    repeat = 1           # > 1: each cell boots once and runs its actions that many times
                         # in restored QEMUs (memhp run --repeat)
    boot_timeout = 180
    accel = "auto"
    boot = "bzimage"     # or "pvh": QEMU enters each kernel's vmlinux (memhp run --boot pvh)
    share_boots = true   # cells whose scenarios differ only in their expectations share
                         # one boot (harness.lab.sharing); false: one boot per cell
    restore_boots = false  # true: runs of one machine that differ in their actions restore
                           # one saved boot (harness.lab.sharing; the nightly does)
    [[variants]]         # default: one variant "default" with no extra cmdline
    name = "default"
    cmdline = ""
    only_with = ""       # a kernel option: the variant runs only where the scenario's
                         # own command line has it (e.g. "movable_node")
    [[exclude]]          # any subset of kernel / qemu / scenario / variant
    kernel = "debian:6.12"
    scenario = "two-node-initrd-pinned"
"""
from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BadInputError
from harness.run.verdict import Verdict
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.schema import Scenario, load_scenario
from harness.units import has_flag, option_values
from harness.userinput import MATRIX, load_toml, number
from harness.userinput import name as plain_name
from kernels.kernel import BOOT_MODES

_KEYS = {"name", "kernels", "qemus", "scenarios", "must_fail", "timeout", "retries", "boot_timeout",
         "accel", "variants", "exclude", "repeat", "boot", "share_boots", "restore_boots"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_RETRIES = 10
# Each cell's run_id is one folder name: within NAME_MAX (include/uapi/linux/limits.h).
NAME_MAX = 255


@dataclass(frozen=True)
class Variant:
    name: str
    cmdline: str = ""
    only_with: str = ""


@dataclass(frozen=True)
class RunSpec:
    """One cell of the matrix; ``expect`` is the verdict the scenario must reach."""

    kernel: str
    scenario: Path
    scenario_name: str
    variant: Variant
    expect: Verdict
    false_claims: tuple[str, ...] = ()  # a must-fail cell: the checks it must fail, exactly
    qemu: str = "system"  # memhp run --qemu
    # The scenario as the matrix read it (a must-fail cell's, an only_with variant's): the
    # cell and the boot sharing ask read_scenario instead of reading the file again.
    loaded: Scenario | None = field(default=None, compare=False, repr=False)

    def read_scenario(self) -> Scenario:
        """The cell's scenario: as the matrix read it, else from its file (BadInputError)."""
        return self.loaded if self.loaded is not None else load_scenario(self.scenario)

    @property
    def run_id(self) -> str:
        """A folder name unique in the matrix, e.g. ``two-node-dimms@debian-6.1+default``
        (``…+default+qemu-debian-10.0`` on a QEMU other than the system's)."""
        kernel = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.kernel).strip("-")
        qemu = "" if self.qemu == "system" else "+qemu-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", self.qemu).strip("-")
        return f"{self.scenario_name}@{kernel}+{self.variant.name}{qemu}"


@dataclass(frozen=True)
class RunSettings:
    timeout: float = 600.0
    retries: int = 1
    boot_timeout: float = 180.0
    accel: str = "auto"
    repeat: int = 1  # memhp run --repeat, when above 1
    boot: str = "bzimage"  # memhp run --boot
    share: bool = True  # cells of one boot share it (harness.lab.sharing)
    restore: bool = False  # runs of one machine restore one saved boot (harness.lab.sharing)
    # Not from the file: this execution of the matrix, set by its driver, so that stopping
    # it (harness.lab.cell.stop_cells) reaches its cells only, also on shared workers.
    matrix_run: str = ""


@dataclass(frozen=True)
class MatrixSpec:
    name: str
    runs: tuple[RunSpec, ...]
    settings: RunSettings


def _expand(base: Path, patterns: Any, key: str, where: str) -> list[Path]:
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise BadInputError(f"{where}: {key}: expected a list of glob strings")
    found: list[Path] = []
    for pattern in patterns:
        hits = sorted(Path(p) for p in glob.glob(str(base / pattern)))
        if not hits:
            raise BadInputError(f"{where}: {key}: {pattern!r} matches no file")
        found.extend(hits)
    return found


def _variants(raw: Any, where: str) -> tuple[Variant, ...]:
    if raw is None:
        return (Variant("default"),)
    if not isinstance(raw, list) or not raw:
        raise BadInputError(f"{where}: variants: expected a non-empty array of tables")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"name", "cmdline", "only_with"}:
            raise BadInputError(f"{where}: variants[{i}]: only 'name', 'cmdline' and 'only_with' "
                                "are allowed")
        name, cmdline, only = item.get("name"), item.get("cmdline", ""), item.get("only_with", "")
        if (not isinstance(name, str) or not _NAME.match(name) or not isinstance(cmdline, str)
                or not isinstance(only, str) or not re.fullmatch(r"[A-Za-z0-9_.-]*", only)):
            raise BadInputError(f"{where}: variants[{i}]: name must match {_NAME.pattern}, "
                                "cmdline must be a string, only_with a kernel option name")
        out.append(Variant(name, cmdline.strip(), only))
    if len({v.name for v in out}) != len(out):
        raise BadInputError(f"{where}: variants: names must be unique")
    return tuple(out)


def _read(path: Path, loaded: dict[Path, Scenario]) -> Scenario:
    """``path``'s scenario, read once per matrix (only the cells that need it at load time)."""
    key = path.resolve()
    if key not in loaded:
        loaded[key] = load_scenario(path)
    return loaded[key]


def _applies(variant: Variant, scenario: Path, loaded: dict[Path, Scenario]) -> bool:
    if not variant.only_with:
        return True
    line = kernel_cmdline(_read(scenario, loaded))
    return has_flag(line, variant.only_with) or bool(option_values(line, variant.only_with))


def _false_claims(scenario: Path, where: str, loaded: dict[Path, Scenario]) -> tuple[str, ...]:
    """A must-fail cell that failed for any reason would pass: its scenario must say which
    checks its false claims fail."""
    claims = _read(scenario, loaded).false_claims
    if not claims:
        raise BadInputError(f"{where}: must_fail: {scenario} declares no false_claims "
                            "(the checks a run of it must fail)")
    return claims


def _excluded(run: RunSpec, excludes: list[dict[str, str]]) -> bool:
    fields = {"kernel": run.kernel, "qemu": run.qemu, "scenario": run.scenario_name,
              "variant": run.variant.name}
    return any(all(fields[k] == v for k, v in ex.items()) for ex in excludes)


def _excludes(raw: Any, where: str) -> list[dict[str, str]]:
    raw = raw or []
    if not isinstance(raw, list):
        raise BadInputError(f"{where}: exclude: expected an array of tables")
    for i, item in enumerate(raw):
        if (not isinstance(item, dict) or not item
                or set(item) - {"kernel", "qemu", "scenario", "variant"}
                or not all(isinstance(v, str) for v in item.values())):
            raise BadInputError(f"{where}: exclude[{i}]: expected strings under kernel, qemu, "
                                "scenario and/or variant")
    return raw


def _number(data: dict[str, Any], key: str, default: float, where: str, *, minimum: float = 0,
            maximum: float | None = None, integer: bool = False) -> float:
    return number(data.get(key, default), f"{where}: {key}", minimum=minimum, maximum=maximum,
                  integer=integer)


def _settings(data: dict[str, Any], where: str) -> RunSettings:
    accel = data.get("accel", "auto")
    if accel not in ("auto", "tcg", "kvm"):
        raise BadInputError(f"{where}: accel: expected auto, tcg or kvm")
    repeat = int(_number(data, "repeat", 1, where, minimum=1, integer=True))
    boot = data.get("boot", "bzimage")
    if boot not in BOOT_MODES:
        raise BadInputError(f"{where}: boot: expected {' or '.join(BOOT_MODES)}")
    share, restore = data.get("share_boots", True), data.get("restore_boots", False)
    for key, value in (("share_boots", share), ("restore_boots", restore)):
        if not isinstance(value, bool):
            raise BadInputError(f"{where}: {key}: expected true or false")
    # retries is a count, bounded so that a typo cannot turn one cell into days of boots.
    retries = int(_number(data, "retries", 1, where, maximum=MAX_RETRIES, integer=True))
    # A timeout under a second could never boot.
    return RunSettings(timeout=_number(data, "timeout", 600, where, minimum=1), retries=retries,
                       boot_timeout=_number(data, "boot_timeout", 180, where, minimum=1), accel=accel,
                       repeat=repeat, boot=boot, share=share, restore=restore)


def load_matrix(path: Path, qemus: tuple[str, ...] = ()) -> MatrixSpec:
    """Read a matrix file; every mistake is one ``BadInputError`` naming the file and key.
    ``qemus`` (``memhp matrix --qemu``) replaces the file's ``qemus`` axis."""
    where = str(path)
    data = load_toml(path, MATRIX)
    unknown = set(data) - _KEYS
    if unknown:
        raise BadInputError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    kernels = data.get("kernels")
    if not isinstance(kernels, list) or not kernels or not all(isinstance(k, str) for k in kernels):
        raise BadInputError(f"{where}: kernels: expected a non-empty list of kernel specs")
    qemu_axis = list(qemus) or data.get("qemus", ["system"])
    if (not isinstance(qemu_axis, list) or not qemu_axis or not all(isinstance(q, str) and q for q in qemu_axis)
            or len(set(qemu_axis)) != len(qemu_axis)):
        raise BadInputError(f"{where}: qemus: expected a non-empty list of distinct QEMU specs "
                            "(system, a path, debian:…)")
    base = path.parent
    cells = [(p, Verdict.PASS) for p in _expand(base, data.get("scenarios", []), "scenarios", where)]
    cells += [(p, Verdict.FAIL) for p in _expand(base, data.get("must_fail", []), "must_fail", where)]
    if not cells:
        raise BadInputError(f"{where}: scenarios: the matrix has no scenario")
    variants, excludes = _variants(data.get("variants"), where), _excludes(data.get("exclude"), where)
    loaded: dict[Path, Scenario] = {}
    claims = {p: _false_claims(p, where, loaded) for p, expect in cells if expect is Verdict.FAIL}
    runs = [RunSpec(k, p.resolve(), p.stem, v, expect, claims.get(p, ()), q, loaded.get(p.resolve()))
            for q in qemu_axis for k in kernels for p, expect in cells for v in variants
            if _applies(v, p.resolve(), loaded)]
    runs = [r for r in runs if not _excluded(r, excludes)]
    if too_long := next((r.run_id for r in runs if len(r.run_id.encode()) > NAME_MAX), None):
        raise BadInputError(f"{where}: run folder name {too_long[:40]}… is longer than "
                            f"{NAME_MAX} bytes: shorten the scenario, kernel or variant name")
    if len({r.run_id for r in runs}) != len(runs):
        raise BadInputError(f"{where}: two scenarios share a file name; run folders would clash")
    # The name becomes the default output folder out/matrix/<name>: one plain component.
    return MatrixSpec(plain_name(data.get("name", path.stem), f"{where}: name"), tuple(runs),
                      _settings(data, where))
