"""pytest plugin (entry point ``pytest11: memhp``): fixtures that boot memhp scenarios.

Options have ini twins; precedence is command line > environment > ini:
``--memhp-kernel`` / ``MEMHP_KERNEL`` / ``memhp_kernel`` (default ``debian:6.1``) and
``--memhp-accel`` / ``MEMHP_ACCEL`` / ``memhp_accel`` (default ``auto``),
``--memhp-qemu`` / ``MEMHP_QEMU`` / ``memhp_qemu`` (default ``system``; a path or spec as
``memhp run --qemu``).

Fixtures (thin wrappers over ``harness.run.runner``):
- ``memhp_options``: the ``RunOptions`` for this session (kernel, accel), out dir per test.
- ``memhp_run``: ``memhp_run(path) -> RunResult`` runs a whole scenario.
- ``memhp_vm``: ``prepared, vm = memhp_vm(path)`` boots a scenario and hands over the
  ``GuestVM`` (console, QMP, agent); QEMU is shut down when the test ends, whatever happened.
  ``vm.run([...], timeout=…)`` runs a program in the guest (argv exec'ed, no shell) and
  returns its ``CommandResult`` (status, stdout, stderr, timed_out).
  ``memhp_vm(path, files=(GuestFile(source=…, dest=…, mode=0o755),))`` adds the test's own
  files (scripts, static binaries, folders) to the initramfs beside the scenario's.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.guest.vm import GuestVM
    from harness.run.runner import Prepared, RunOptions
    from harness.run.verdict import RunResult

_OPTIONS = (("kernel", "debian:6.1", "kernel SPEC for memhp fixtures"),
            ("accel", "auto", "accelerator for memhp fixtures: auto, tcg or kvm"),
            ("boot", "bzimage", "how memhp fixtures boot the kernel: bzimage, or pvh (its vmlinux)"),
            ("qemu", "system", "QEMU for memhp fixtures: system, a binary, or an unpacked package's root"))
_STASH = pytest.StashKey[dict[str, str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memhp")
    for name, default, help_ in _OPTIONS:
        group.addoption(f"--memhp-{name}", default=None, help=f"{help_} (default {default})")
        parser.addini(f"memhp_{name}", help_, default=default)


def pytest_configure(config: pytest.Config) -> None:
    settings = {}
    for name, _, _ in _OPTIONS:
        settings[name] = (config.getoption(f"--memhp-{name}")
                          or os.environ.get(f"MEMHP_{name.upper()}")
                          or config.getini(f"memhp_{name}"))
    config.stash[_STASH] = settings


@pytest.fixture
def memhp_options(request: pytest.FixtureRequest, tmp_path: Path) -> "RunOptions":
    from harness.run.runner import RunOptions

    settings = request.config.stash[_STASH]
    return RunOptions(kernel=settings["kernel"], accel=settings["accel"], boot=settings["boot"],
                      qemu=settings["qemu"], out_dir=tmp_path / "run")


@pytest.fixture
def memhp_run(memhp_options: "RunOptions") -> Callable[..., "RunResult"]:
    from harness.run.runner import run_scenario

    def run(path: Path, **changes: Any) -> "RunResult":
        return run_scenario(Path(path), dataclasses.replace(memhp_options, **changes))

    return run


@pytest.fixture
def memhp_vm(memhp_options: "RunOptions") -> Iterator[Callable[..., Any]]:
    from harness.run.runner import booted

    with contextlib.ExitStack() as stack:
        def boot(path: Path, **changes: Any) -> tuple["Prepared", "GuestVM"]:
            return stack.enter_context(booted(Path(path), dataclasses.replace(memhp_options, **changes)))

        yield boot
