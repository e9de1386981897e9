"""virtio-mem's guest driver is a module on Debian's kernels (6.1 needs virtio_pci too):
the modules from the kernel's own package, loaded by the initramfs's init, bind the
virtio-mem-pci device, which then plugs the size asked for at boot; and one virtio-mem
scenario through ``memhp run``: the stalled unplug, the hardest of them (the others and
every sibling boot in scripts/virtio-mem-scenarios)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import kernels
from harness.guest.initramfs import compose_initrd, module_entries
from harness.guest.vm import GuestVM
from harness.logparse import load_boot_log
from harness.qemu.accel import TCG
from harness.qemu.cmdline import build_command
from harness.qemu.devices import VIRTIO_MEM_MODULES, command_line, virtio_mem_args
from harness.qemu.machine import Machine
from harness.run.verdict import Verdict
from harness.scenario.schema import load_scenario
from harness.units import parse_size

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


def test_debian_6_1_loads_virtio_pci_and_virtio_mem_and_plugs_at_boot(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "two-node-dimms.toml")  # 2G RAM, maxmem 4G, node 1
    kernel = kernels.resolve("debian:6.1")
    modules = kernels.needed_modules(kernel, VIRTIO_MEM_MODULES)
    assert [m.name for m in modules][-1] == "virtio_mem" and "virtio_pci" in [m.name for m in modules]
    initrd = compose_initrd(tmp_path / "initrd.img", None, more=module_entries(modules))
    device = command_line(*virtio_mem_args("vm0", 1, parse_size("512M"), parse_size("256M")))
    machine = Machine(lambda ch: build_command(scenario, kernel.bzimage, initrd, ch, TCG) + device, tmp_path)
    with GuestVM(machine) as vm:
        vm.boot(180)
        # The driver plugs from its workqueue after probe, block by block: the agent can
        # answer before the last block is in (seen: 128 of 256 MiB on a loaded machine).
        deadline = time.monotonic() + 60
        while (plugged := vm.qmp.command("qom-get", path="/machine/peripheral/vm0", property="size")) \
                != parse_size("256M") and time.monotonic() < deadline:
            time.sleep(0.5)
        vm.poweroff()
    console = (tmp_path / "console.log").read_text(errors="replace")
    for name in (m.name for m in modules):
        assert f"memhp-init: loaded {name}" in console
    assert "memhp-init: insmod" not in console
    (device,) = load_boot_log(tmp_path / "console.log").virtio_mem_devices
    assert (device.nid, device.region_size, device.device_block_size) == (1, parse_size("512M"), 2 << 20)
    assert device.addr is not None and device.addr >= 1 << 32  # in the device-memory window above 4G
    assert device.requests[0].requested_size == parse_size("256M")  # asked at boot, seen at probe
    assert plugged == parse_size("256M")


def test_an_unplug_held_by_slab_in_zone_normal_stops_short_and_names_the_blocks(shared_run) -> None:
    """two-node-virtio-mem-pinned through `memhp run`: the modules come from the kernel, the
    plugged blocks are ZONE_NORMAL, slab made on node 1's CPU lands in them, and the unplug
    to 0 stops where QEMU's size says, with the blocks that hold it and their slab pages."""
    result = shared_run(SCENARIOS / "two-node-virtio-mem-pinned.toml")
    assert result.verdict is Verdict.PASS, result.summary()
    console = (Path(result.info.out_dir or "") / "console.log").read_text(errors="replace")
    assert "memhp-init: loaded virtio_mem" in console and "memhp-init: insmod" not in console
    checks = {c.name: c for c in result.checks}
    assert checks["virtio-mem vm0 where the layout put it"].observed == "start 0x100000000, size 0x80000000, nid 1"
    assert checks["virtio-mem vm0 zones after plug-1g"].observed == "Normal 0x40000000"
    model = json.loads((Path(result.info.out_dir or "") / "model.json").read_text())
    plug, unplug = (next(a["virtio_mem"] for a in model["actions"] if a["id"] == i) for i in ("plug-1g", "unplug-to-0"))
    assert plug["size_before"] == parse_size("256M") and plug["size"] == 1 << 30  # 256M plugged at probe
    assert 0 < unplug["size"] < 1 << 30 and unplug["size_changes"][-1] == unplug["size"]
    held = unplug["held"]
    assert held and {h["zone"] for h in held} == {"Normal"} and any(h["slab"] for h in held)
    # What is still plugged lives in the blocks named.
    assert len(held) * (128 << 20) >= unplug["size"]
    assert "held by memory" in checks["action unplug-to-0 (virtio_mem_resize)"].reason
    (agrees,) = [c for c in result.model_checks if c.name == "model agrees: action unplug-to-0"]
    assert agrees.ok and agrees.expected == "failure"
