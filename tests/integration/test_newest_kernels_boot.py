"""The newest LTS and stable kernels Debian ships (6.18, 7.3): the headline scenario and its
refused sibling pass, the e820 witness reads the new table format, and the model runs and
agrees (issue 23); a kernelcore= case and a virtio-mem case pass with the model agreeing on
the catalog's ``debian:lts`` and ``debian:latest``, and their must-fail siblings fail on
exactly their false claims (judged on the parent's boot)."""
from __future__ import annotations

from pathlib import Path

import pytest
from must_fail_claims import MUST_FAIL

from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
KERNELS = ("debian:6.18", "debian:7.3")


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("name", "removed"), [("three-node-boot-dimm-movable", True),
                                               ("three-node-boot-dimm-refused", False)])
def test_headline_and_refused_sibling_with_the_model(shared_run, kernel: str, name: str, removed: bool) -> None:
    result = shared_run(SCENARIOS / f"{name}.toml", kernel=kernel)
    assert result.verdict is Verdict.PASS, result.summary()
    # 6.18 prints the e820 user table as "usable", 7.x as " System RAM": both are RAM.
    witness = next(c for c in result.checks if c.name == "boot-RAM DIMM boot0 where the kernel booted with it")
    assert witness.ok and "e820: user [0x100000000-0x17fffffff] " in witness.reason, witness
    model = result.info.model_agreement
    assert model is not None and model.skipped is None and model.error is None, result.summary()
    assert model.profile_note == "", model.profile_note
    assert result.model_checks and all(c.ok for c in result.model_checks), result.summary()
    assert (result.headline or "").startswith("boot memory removed" if removed else "boot memory kept")
    if not removed:  # the log names the allocations that cleared node 2's mark
        mark = next(c for c in result.checks if c.name == "SRAT hotplug mark of node 2 honoured")
        assert "alloc_low_pages" in mark.reason and "setup_log_buf" in mark.reason, mark


@pytest.mark.parametrize("kernel", ("debian:lts", "debian:latest"))
@pytest.mark.parametrize(("name", "sibling"), [
    ("three-node-kernelcore-percent", "three-node-kernelcore-percent-claims-old-model"),
    ("two-node-virtio-mem-movable", "two-node-virtio-mem-movable-claims-normal-and-stuck")])
def test_kernelcore_and_virtio_mem_on_the_newest_kernels(shared_run, kernel: str, name: str, sibling: str) -> None:
    result = shared_run(SCENARIOS / f"{name}.toml", kernel=kernel)
    assert result.verdict is Verdict.PASS, result.summary()
    model = result.info.model_agreement
    assert model is not None and model.skipped is None and model.error is None, result.summary()
    assert result.model_checks and all(c.ok for c in result.model_checks), result.summary()
    refused = shared_run(SCENARIOS / "must-fail" / f"{sibling}.toml", kernel=kernel)
    assert refused.verdict is Verdict.FAIL
    assert {c.name for c in refused.checks if not c.ok} == MUST_FAIL[sibling], refused.summary()
