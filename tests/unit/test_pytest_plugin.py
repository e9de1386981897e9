"""The pytest plugin as users meet it: registered by entry point, options with ini twins."""
from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PROBE = """
def test_probe(memhp_options):
    print("KERNEL=" + memhp_options.kernel + " ACCEL=" + memhp_options.accel + " QEMU=" + memhp_options.qemu)
    assert memhp_options.out_dir.name == "run"
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_probe=PROBE)
    return pytester.runpytest_subprocess("-s", *args)  # loaded by its pytest11 entry point


def test_defaults(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMHP_KERNEL", raising=False)
    monkeypatch.delenv("MEMHP_ACCEL", raising=False)
    monkeypatch.delenv("MEMHP_QEMU", raising=False)
    _run(pytester).stdout.fnmatch_lines(["*KERNEL=debian:6.1 ACCEL=auto QEMU=system*", "*1 passed*"])


def test_command_line_beats_environment_beats_ini(pytester: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nmemhp_kernel = debian:6.12\nmemhp_accel = kvm\n")
    monkeypatch.delenv("MEMHP_KERNEL", raising=False)
    monkeypatch.setenv("MEMHP_ACCEL", "tcg")
    _run(pytester).stdout.fnmatch_lines(["*KERNEL=debian:6.12 ACCEL=tcg*"])
    _run(pytester, "--memhp-kernel", "/k/bzImage").stdout.fnmatch_lines(["*KERNEL=/k/bzImage ACCEL=tcg*"])


def test_qemu_option_command_line_beats_environment_beats_ini(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nmemhp_qemu = /ini/qemu\n")
    monkeypatch.delenv("MEMHP_QEMU", raising=False)
    _run(pytester).stdout.fnmatch_lines(["*QEMU=/ini/qemu*"])
    monkeypatch.setenv("MEMHP_QEMU", "/env/qemu")
    _run(pytester).stdout.fnmatch_lines(["*QEMU=/env/qemu*"])
    _run(pytester, "--memhp-qemu", "/cli/qemu").stdout.fnmatch_lines(["*QEMU=/cli/qemu*"])


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    pytester.runpytest_subprocess("--help").stdout.fnmatch_lines(["*--memhp-kernel*", "*--memhp-accel*",
                                                                           "*--memhp-qemu*"])
