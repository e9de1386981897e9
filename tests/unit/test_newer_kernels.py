"""Kernels newer than 6.12 on their recorded boots (fixtures/logs/qemu-{6.18,7.2,7.3}-*, Debian's
packages): profiles chosen without a note, what the logs hold read as on 6.1, and simulate's
prediction of the early placements against the logged ones."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.pinning import HotplugStatus, hotplug_findings
from harness.analysis.simulate import simulate
from harness.logparse import E820Type, load_boot_log
from harness.scenario.schema import load_scenario
from kernels.profile import E820Format, LogBufferLine, ReserveLine, profile_for

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "fixtures" / "logs"
NEWER = {"6.18": "6.18.15+deb13-amd64", "7.2": "7.2.13+deb14-amd64", "7.3": "7.3.4+deb13-amd64"}


@pytest.mark.parametrize("series", sorted(NEWER))
def test_each_recorded_series_has_its_own_profile(series: str) -> None:
    log = load_boot_log(LOGS / f"qemu-{series}-three-node.log")
    assert log.kernel_release == NEWER[series]
    choice = profile_for(log.kernel_release)
    assert (choice.profile.series, choice.note) == (series, "")


def test_a_release_past_every_profile_is_modelled_as_the_newest_and_says_so() -> None:
    choice = profile_for("7.4.1+deb13-amd64")
    assert choice.profile.series == "7.3"
    assert choice.note == "kernel 7.4.1+deb13-amd64 is newer than every profile: modelled as 7.3"
    with pytest.raises(ValueError, match="older than every profile"):
        profile_for("5.10.0-30-amd64")


@pytest.mark.parametrize("series", sorted(NEWER))
def test_the_formats_the_profile_names_are_the_ones_the_log_prints(series: str) -> None:
    """Reserve line, e820 table and log-buffer line, each read from its own format."""
    log = load_boot_log(LOGS / f"qemu-{series}-three-node.log")
    logs = profile_for(series).profile.logs
    reserves = [e for e in log.memblock_events if e.func == "memblock_reserve"]
    assert reserves and all(e.nid is not None for e in reserves) is (logs.reserve_line is ReserveLine.NID_FLAGS)
    assert [e.type for e in log.e820 if e.start == 0x100000] == [E820Type.RAM]
    assert bool(log.e820_gaps) is (logs.e820 is E820Format.NAMED_WITH_GAPS)
    assert log.log_buf is not None and log.log_buf.size == 8 << 20
    assert (log.log_buf.meta is not None) is (logs.log_buffer is LogBufferLine.DATA_PLUS_META)
    # Every allocation line got its reserve line, hidden callers included.
    assert all(a.result is not None for a in log.memblock_allocs)
    assert any(a.requester.endswith("(the log does not name the caller)") for a in log.memblock_allocs)


@pytest.mark.parametrize("series", ["6.18", "7.3"])
def test_the_log_names_what_cleared_node_2s_mark(series: str) -> None:
    """memhp's own run of three-node-boot-dimm-refused (a boot-RAM DIMM on node 2, no
    movable_node): page tables and the log buffer land in it top-down, as on 6.1."""
    log = load_boot_log(LOGS / "recorded" / f"memhp-{series}-three-node-boot-dimm-refused.log")
    (finding,) = [f for f in hotplug_findings(log) if f.node == 2]
    assert finding.status is HotplugStatus.CLEARED
    callers = {c.caller for r in finding.pinned_by for c in r.causes}
    assert {"alloc_low_pages", "setup_log_buf"} <= callers, callers


@pytest.mark.parametrize("series", ["6.18", "7.3"])
def test_simulate_places_the_log_buffer_and_node_data_where_the_kernel_did(series: str) -> None:
    log = load_boot_log(LOGS / "recorded" / f"memhp-{series}-three-node-boot-dimm-refused.log")
    prediction = simulate(load_scenario(ROOT / "fixtures" / "scenarios" / "three-node-boot-dimm-refused.toml"),
                          f"debian:{series}")
    logged = sorted((a.result.start, a.result.end) for a in log.memblock_allocs
                    if a.caller_function in ("setup_log_buf", "alloc_low_pages") and a.result)
    predicted = sorted((r.start, r.end) for r in prediction.node(2).pinned_by)
    assert predicted == logged
    assert prediction.node(2).hotplug_honoured is False


def test_the_summary_says_why_the_model_did_not_run_and_which_profile_it_used() -> None:
    import dataclasses

    from harness.run.artifacts import NO_INFO, ModelAgreement
    from harness.run.verdict import RunResult

    result = RunResult("s", "debian:9.9")
    result.info = dataclasses.replace(NO_INFO, model_agreement=ModelAgreement.not_run(
        skipped="templates.json: no template for kernel 9.9"))
    assert "\n  model not run: templates.json: no template for kernel 9.9" in result.summary()
    result.info = dataclasses.replace(NO_INFO, model_agreement=dataclasses.replace(
        ModelAgreement.not_run(), profile_note="kernel 9.9.1 is newer than every profile: modelled as 7.3"))
    assert "\n  model profile: kernel 9.9.1 is newer than every profile: modelled as 7.3" in result.summary()
    assert result.artifact().to_json()["info"]["model_agreement"]["profile_note"].startswith("kernel 9.9.1")


@pytest.mark.parametrize("series", ["6.1", "6.12", "6.18", "7.2", "7.3"])
def test_the_log_buffer_sizes_follow_from_the_profile(series: str) -> None:
    """setup_log_buf's text, descriptors and infos (printk_info 88 B, 112 B with Debian 7.x's
    CONFIG_PRINTK_EXECUTION_CTX), as each recorded boot allocated them for log_buf_len=8M."""
    from harness.analysis.simulate_boot import log_buffers

    log = load_boot_log(LOGS / f"qemu-{series}-three-node.log")
    logged = tuple(a.size for a in log.memblock_allocs if a.caller_function == "setup_log_buf")
    assert log_buffers(8 << 20, profile_for(log.kernel_release or "").profile.printk) == logged
    if log.log_buf is not None and log.log_buf.meta is not None:  # 6.18 on prints the sum
        assert log.log_buf.meta == sum(logged[1:])


def test_the_kernels_own_config_decides_the_printk_info_size() -> None:
    from kernels.config import parse_config

    plain = parse_config("# CONFIG_PRINTK_EXECUTION_CTX is not set\n", "t")
    ctx = parse_config("CONFIG_PRINTK_EXECUTION_CTX=y\n", "t")
    assert profile_for("7.3.4", plain).profile.printk.printk_info_bytes == 88
    assert profile_for("6.12.1", ctx).profile.printk.printk_info_bytes == 112
