"""``[[virtio_mem]]`` in a scenario: validated like DIMMs (one line naming the key), placed
in the device-memory window after the coldplugged DIMMs, on QEMU's command line at that
address."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.qemu.cmdline import build_command
from harness.qemu.machine import Channels
from harness.scenario.layout import VirtioMemPlacement, compute_layout
from harness.scenario.schema import load_scenario

BASE = """
name = "v"
[machine]
cpus = 2
slots = 1
maxmem = "6G"
nodes = [{ memory = "1G", cpus = [0] }, { memory = "1G", cpus = [1] }]
[[dimms]]
id = "cold"
size = "256M"
node = 1
at_boot = true
[[virtio_mem]]
id = "vm0"
node = 1
size = "2G"
requested_size = "256M"
"""


def _load(tmp_path: Path, text: str = BASE) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_device_is_placed_after_the_coldplugged_dimms_and_on_the_command_line(tmp_path: Path) -> None:
    scenario = load_scenario(_load(tmp_path))
    layout = compute_layout(scenario)
    # The window starts at 4 GiB (no RAM above 4G); the 256M DIMM first, then the device
    # at the next memory block.
    assert layout.virtio_mem == (VirtioMemPlacement("vm0", 1, 0x110000000, 0x190000000),)
    argv = build_command(scenario, Path("bz"), Path("rd"), Channels(Path("c"), Path("a"), Path("q")))
    assert "virtio-mem-pci,id=vm0,memdev=vmem-vm0,node=1,requested-size=268435456,memaddr=4563402752" in argv
    assert "memory-backend-ram,id=vmem-vm0,size=2147483648" in argv


@pytest.mark.parametrize(("change", "message"), [
    (('size = "2G"', 'size = "100M"'), "virtio_mem[0].size: 0x6400000 is not a positive multiple"),
    (('requested_size = "256M"', 'requested_size = "3G"'), "requested_size 0xc0000000 is above size"),
    (('requested_size = "256M"', 'requested_size = "3M"'), "is not a multiple of block_size 0x200000"),
    (('requested_size = "256M"', 'block_size = "3M"'), "block_size 0x300000 is not a power of two"),
    (('id = "vm0"\nnode = 1', 'id = "vm0"\nnode = 4'), "virtio_mem vm0: node 4 does not exist"),
    (('id = "vm0"', 'id = "cold"'), "ids must be unique, also against the dimms'"),
    (('maxmem = "6G"', 'maxmem = "3G"'), "above machine.maxmem"),
    (('id = "vm0"', 'id = "vm0"\nsize_max = 1'), "virtio_mem[0].size_max: unknown key"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _load(tmp_path, BASE.replace(*change))
    with pytest.raises(BadInputError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_device_beyond_the_window_is_refused(tmp_path: Path) -> None:
    # maxmem has room for both devices, but a 2G device block aligns the device to 6G, past
    # the window's end at 4G + 2304M + 1G (one slot's alignment slack).
    text = BASE.replace('maxmem = "6G"', 'maxmem = "4352M"').replace(
        'requested_size = "256M"', 'block_size = "2G"')
    with pytest.raises(BadInputError, match="virtio_mem vm0: .* do not fit in the device-memory window"):
        compute_layout(load_scenario(_load(tmp_path, text)))


@pytest.mark.parametrize(("action", "message"), [
    ('do = "virtio_mem_resize"\ndevice = "vm9"\nrequested_size = "1G"', "action a: no virtio_mem 'vm9'"),
    ('do = "virtio_mem_resize"\ndevice = "vm0"\nrequested_size = "3G"', "requested_size 0xc0000000 is not a multiple"),
    ('do = "virtio_mem_resize"\ndevice = "vm0"\nrequested_size = "1G"\nzones = { DMA = "1G" }',
     "actions[0].zones.DMA: Input should be 'Normal' or 'Movable'"),
    ('do = "slab_pin"\ncpu = 2\nfiles = 10', "action a: cpu 2 is not below machine.cpus = 2"),
    ('do = "slab_pin"\ncpu = 1\nfiles = 0', "actions[0].files: Input should be greater than or equal to 1"),
])
def test_virtio_mem_actions_are_checked(tmp_path: Path, action: str, message: str) -> None:
    path = _load(tmp_path, BASE + f'\n[[actions]]\nid = "a"\n{action}\n')
    with pytest.raises(BadInputError) as err:
        load_scenario(path)
    assert message in str(err.value)


def test_resize_actions_load(tmp_path: Path) -> None:
    path = _load(tmp_path, BASE + '\n[[actions]]\nid = "a"\ndo = "virtio_mem_resize"\ndevice = "vm0"\n'
                 'requested_size = "1G"\nzones = { Movable = "768M", Normal = "256M" }\n')
    (action,) = load_scenario(path).actions
    assert action.do == "virtio_mem_resize" and action.zones == {"Movable": 768 << 20, "Normal": 256 << 20}
