"""CXL type-3 memory on real boots: debian:6.12 and debian:7.3 (their own CXL modules)
under a QEMU with volatile type-3 devices (>= 8.0; measured on 10.0.2 from bookworm-backports).

The QEMU is the session's ``--memhp-qemu`` when one is given, else the host release's
backports QEMU from Debian's archive (harness.qemu.archive.BACKPORTS: 10.0 on Debian 12,
11.1 on Debian 13), named here so that every host runs its newest; a plain run picks
that one itself when the system QEMU lacks ``volatile-memdev`` (7.2: harness.qemu.choice).
Each pass scenario boots on both kernels; its must-fail sibling (on 6.12) must fail on
exactly its false claims, judged on the pass scenario's 6.12 boot where it differs only in
what it expects (the region's zone is a claim), else booting.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from must_fail_claims import MUST_FAIL

from harness.qemu.archive import BACKPORTS, host_release
from harness.qemu.binary import SYSTEM
from harness.run.runner import RunOptions
from harness.run.verdict import RunResult, Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
CXL_KERNELS = ("debian:6.12", "debian:7.3")


@pytest.fixture
def cxl_run(shared_run, memhp_options: RunOptions):  # type: ignore[no-untyped-def]
    qemu = memhp_options.qemu if memhp_options.qemu != SYSTEM else BACKPORTS.get(host_release() or "")
    if qemu is None:
        pytest.fail("no QEMU with CXL type-3 memory for this host (Debian 12 or 13): give --memhp-qemu")

    def run(path: Path, kernel: str = CXL_KERNELS[0]) -> RunResult:
        result: RunResult = shared_run(path, kernel=kernel, qemu=qemu)
        return result
    return run


def _actions(result: RunResult) -> dict[str, dict[str, Any]]:
    out = Path(result.info.out_dir or "")
    return {a["id"]: a for a in json.loads((out / "model.json").read_text())["actions"]}


def _failed(result: RunResult) -> set[str]:
    return {c.name for c in result.checks if not c.ok}


@pytest.mark.parametrize("kernel", CXL_KERNELS)
def test_movable_cxl_memory_offlines_with_its_data_and_the_device_leaves(cxl_run, kernel: str) -> None:  # type: ignore[no-untyped-def]
    result = cxl_run(SCENARIOS / "one-node-cxl-movable.toml", kernel)
    assert result.verdict is Verdict.PASS, result.summary()
    actions = _actions(result)
    region = actions["region"]["cxl"]
    assert region["node"] == 1 and region["region"]["dax_driver"] == "kmem"
    assert region["blocks"] == ["memory106 online Movable", "memory107 online Movable"]
    before, after = actions["offline"]["cxl"]["data_md5"]
    assert before == after == region["data_md5"][0]
    assert actions["remove"]["cxl"]["present"] == {"qemu": False, "guest": False}
    # the model's zone agrees (informational checks, held here)
    assert any(c.name.startswith("model agrees: CXL") and c.ok for c in result.model_checks)


@pytest.mark.parametrize("kernel", CXL_KERNELS)
def test_slab_pinned_normal_cxl_memory_refuses_offline_and_is_never_torn_down(cxl_run, kernel: str) -> None:  # type: ignore[no-untyped-def]
    result = cxl_run(SCENARIOS / "one-node-cxl-slab-refused.toml", kernel)
    assert result.verdict is Verdict.PASS, result.summary()
    actions = _actions(result)
    refused = [b for b in actions["offline"]["blocks"] if not b["ok"]]
    assert refused and all(b["pageflags"] and b["pageflags"]["slab"] for b in refused), refused
    assert "memhp refuses" in actions["teardown"]["reason"]
    assert result.checks[0].ok  # no kernel panic: the region stayed up with its memory


@pytest.mark.parametrize("kernel", CXL_KERNELS)
def test_auto_movable_keeps_cxl_memory_of_a_node_without_kernel_memory_in_normal(  # type: ignore[no-untyped-def]
        cxl_run, kernel: str) -> None:
    """The kernel's auto-online policy decides the zone (auto_movable_numa_aware): Normal."""
    result = cxl_run(SCENARIOS / "one-node-cxl-auto-online.toml", kernel)
    assert result.verdict is Verdict.PASS, result.summary()
    region = _actions(result)["region"]["cxl"]
    assert region["node"] == 1 and region["blocks"] == ["memory106 online Normal", "memory107 online Normal"]
    assert any(c.name.startswith("model agrees: CXL") and c.ok for c in result.model_checks)


@pytest.mark.parametrize("kernel", CXL_KERNELS)
def test_a_window_the_srat_marks_hotpluggable_takes_the_srat_node_and_movable_node_decides(  # type: ignore[no-untyped-def]
        cxl_run, kernel: str) -> None:
    """The firmware-described window: the kernel prints the override's entry for it and
    makes no node of its own from CEDT (the region's blocks are on the SRAT's node 1); under
    movable_node the kernel's own auto-online puts them in ZONE_MOVABLE."""
    result = cxl_run(SCENARIOS / "one-node-cxl-srat-hotplug.toml", kernel)
    assert result.verdict is Verdict.PASS, result.summary()
    (srat,) = [c for c in result.checks if c.name == "CXL cxl-vmem0 window in the SRAT as the kernel read it"]
    assert srat.ok and srat.observed == "node 1 PXM 1 [mem 0x350000000-0x44fffffff] hotplug", srat
    actions = _actions(result)
    region = actions["region"]["cxl"]
    assert region["node"] == 1 and region["blocks"] == ["memory106 online Movable", "memory107 online Movable"]
    before, after = actions["offline"]["cxl"]["data_md5"]
    assert before == after == region["data_md5"][0]
    assert any(c.name.startswith("model agrees: CXL") and c.ok for c in result.model_checks)


@pytest.mark.parametrize("name", ["one-node-cxl-movable-claims-refused", "one-node-cxl-slab-refused-claims-removed",
                                  "one-node-cxl-srat-hotplug-claims-normal", "one-node-cxl-auto-online-claims-movable"])
def test_cxl_sibling_fails_on_exactly_its_false_claims(cxl_run, name: str) -> None:  # type: ignore[no-untyped-def]
    result = cxl_run(SCENARIOS / "must-fail" / f"{name}.toml")
    assert result.verdict is Verdict.FAIL
    assert _failed(result) == MUST_FAIL[name], result.summary()
