"""How --repeat saves and restores: mapped-ram where the QEMU has it (faster, measured by
scripts/bench-repeat), the fd: stream elsewhere (QEMU 7.2); recorded probes of both."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.qemu.facts import QemuFacts
from harness.qemu.migration import MAPPED_RAM, STREAM, save_format

ROOT = Path(__file__).resolve().parents[2]


def _recorded(version: str) -> QemuFacts:
    return QemuFacts.of(json.loads((ROOT / f"fixtures/qemu/probe-{version}.json").read_text()))


def test_each_qemu_gets_the_way_it_has() -> None:
    assert save_format(_recorded("10.0.2")).name == MAPPED_RAM
    assert save_format(_recorded("7.2.22")).name == STREAM
    assert save_format(_recorded("10.0.2"), STREAM).name == STREAM


def test_the_restoring_qemu_is_told_how() -> None:
    assert save_format(_recorded("7.2.22")).incoming_args(7) == ["-incoming", "fd:7"]
    assert save_format(_recorded("10.0.2")).incoming_args(7) == ["-incoming", "defer"]


def test_mapped_ram_on_a_qemu_without_it_is_refused() -> None:
    with pytest.raises(ValueError, match="QEMU 7.2.22 .* has no mapped-ram"):
        save_format(_recorded("7.2.22"), MAPPED_RAM)
