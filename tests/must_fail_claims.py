"""The false claims of each must-fail sibling: the checks a run of it must fail, no more.

Shared by the boot (tests/integration/test_scenarios.py) and the offline check from
recorded boots and the simulator (tests/unit/test_must_fail_offline.py), so both tiers
demand the same reasons.
"""
from __future__ import annotations

MUST_FAIL: dict[str, set[str]] = {
    "three-node-no-movable-node-claims-movable": {
        "ZONE_MOVABLE of node 2 starts at", "SRAT hotplug mark of node 2 honoured",
        "action offline-node2 (offline_node)"},
    "two-node-initrd-pinned-claims-honoured": {
        "ZONE_MOVABLE of node 1 starts at", "SRAT hotplug mark of node 1 honoured"},
    "two-node-dimm-refused-claims-removed": {"action remove-hot0 (dimm_remove)"},
    "three-node-movable-claims-offline-refused": {"action offline-node2 (offline_node)"},
    "two-node-dimms-claims-refused": {"action remove-hot0 (dimm_remove)"},
    "three-node-slit-override-claims-no-slit": {"node distances"},
    "three-node-slit-qemu-claims-no-slit": {"node distances"},
    "three-node-boot-dimm-movable-claims-refused": {"action remove-boot0 (dimm_remove)"},
    "three-node-boot-dimm-refused-claims-removed": {
        "SRAT hotplug mark of node 2 honoured", "action remove-boot0 (dimm_remove)"},
    "two-node-remove-movable-claims-refused": {"action remove-node1 (node_remove)"},
    "two-node-remove-refused-claims-removed": {"action remove-node1 (node_remove)"},
    "four-node-kernelcore-claims-old-model": {
        "ZONE_MOVABLE of node 2 starts at", "ZONE_MOVABLE of node 3 starts at"},
    "three-node-kernelcore-percent-claims-old-model": {"ZONE_MOVABLE of node 2 starts at"},
    "three-node-movablecore-claims-no-movable": {"node 2 has no ZONE_MOVABLE"},
    "four-node-movablecore-percent-claims-unspread": {
        "ZONE_MOVABLE of node 2 starts at", "ZONE_MOVABLE of node 3 starts at"},
    "three-node-movable-node-movablecore-claims-movablecore-wins": {"ZONE_MOVABLE of node 2 starts at"},
    "two-node-virtio-mem-movable-claims-normal-and-stuck": {
        "virtio-mem vm0 zones after plug-1g", "action unplug-to-0 (virtio_mem_resize)"},
    "two-node-virtio-mem-pinned-claims-unplugged": {
        "action unplug-to-0 (virtio_mem_resize)", "virtio-mem vm0 zones after unplug-to-0"},
    "two-node-virtio-mem-auto-movable-claims-all-movable": {"virtio-mem vm0 zones after plug-1536m"},
}
