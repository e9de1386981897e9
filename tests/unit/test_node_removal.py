"""Whole-node removal: schema, QEMU command line, the agent's node/CPU verbs, QEMU's CPU
unplug events (recorded from a real 6.1 run of two-node-remove-movable), the verdict of a
QEMU crash, and the model's prediction for node_remove."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.simulate import simulate
from harness.errors import BadInputError
from harness.guest.state import parse_cpus, parse_id_list, parse_nodes
from harness.qemu.cmdline import build_command
from harness.qemu.machine import Channels
from harness.qemu.qmp import QmpSession
from harness.scenario.schema import load_scenario, parse_scenario

ROOT = Path(__file__).parents[2]
MOVABLE = ROOT / "fixtures/scenarios/two-node-remove-movable.toml"
REFUSED = ROOT / "fixtures/scenarios/two-node-remove-refused.toml"
CPU_PATH = "/machine/unattached/device[2]"
# What QEMU 7.2 sent after device_del of that CPU (qmp.jsonl of the real run).
CPU_EVENTS = [
    {"event": "ACPI_DEVICE_OST", "data": {"info": {"source": 3, "status": 132, "slot": "1",
                                                   "slot-type": "CPU"}}},
    {"event": "DEVICE_DELETED", "data": {"path": CPU_PATH + "/lapic"}},
    {"event": "ACPI_DEVICE_OST", "data": {"info": {"source": 3, "status": 0, "slot": "1",
                                                   "slot-type": "CPU"}}},
]


def _machine(**over: Any) -> dict[str, Any]:
    return {"cpus": 2, "cpu_sockets": True, "slots": 2, "maxmem": "4G",
            "nodes": [{"memory": "2G", "cpus": [0]}, {"memory": 0, "cpus": [1]}]} | over


def _scenario(action: dict[str, Any], **machine: Any) -> dict[str, Any]:
    return {"name": "t", "machine": _machine(**machine), "srat": {"source": "qemu"},
            "dimms": [{"id": "b1", "size": "1G", "node": 1, "boot_ram": True}],
            "actions": [{"id": "rm", "do": "node_remove", "node": 1} | action]}


def _talk(requests: str) -> list[str]:
    """The agent script run by busybox sh on this host, as test_guest_agent_script does."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    agent = ROOT / "harness/guest/agent.sh"
    proc = subprocess.run([busybox, "sh", str(agent)], input=requests, capture_output=True,
                          text=True, timeout=20, check=False)
    return [line for line in proc.stdout.splitlines() if line]


def test_memoryless_node_with_a_socket_cpu_becomes_numa_cpu_and_no_memdev() -> None:
    argv = build_command(load_scenario(MOVABLE), Path("k"), Path("i"),
                         Channels(Path("c"), Path("a"), Path("q")))
    line = " ".join(argv)
    assert "-smp 2,sockets=2,cores=1,threads=1,maxcpus=2" in line
    assert "-numa node,nodeid=1 " in line and "ram-node1" not in line
    assert "-numa cpu,node-id=1,socket-id=1" in line and ",cpus=" not in line


@pytest.mark.parametrize(("action", "machine", "words"), [
    ({"node": 0}, {}, "actions[0].node: Input should be greater than or equal to 1"),
    ({}, {"cpu_sockets": False}, "unplugging CPUs needs machine.cpu_sockets"),
    ({}, {"nodes": [{"memory": "2G", "cpus": [0]}, {"memory": "1G", "cpus": [1]}]},
     "node 1 has boot RAM outside DIMMs"),
    ({}, {"nodes": [{"memory": 0, "cpus": [0]}, {"memory": 0, "cpus": [1]}]},
     "the nodes have no boot RAM at all"),
    ({"node": 3}, {}, "node 3 does not exist"),
])
def test_a_node_that_cannot_be_removed_as_written_is_bad_input(
        action: dict[str, Any], machine: dict[str, Any], words: str) -> None:
    with pytest.raises(BadInputError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(_scenario(action, **machine), "x.toml")


def test_kernel_lists_and_node_states_name_where_a_node_still_shows() -> None:
    assert parse_id_list("0-2,5\n") == {0, 1, 2, 5} and parse_id_list("") == frozenset()
    gone = parse_nodes(("dirs 0", "online 0", "has_cpu 0", "has_memory 0", "has_normal_memory 0"))
    assert gone.holds(1) == []
    left = parse_nodes(("dirs 0 1", "online 0-1", "has_cpu 0", "has_memory 0-1",
                        "has_normal_memory 0"))
    assert left.holds(1) == ["/sys/devices/system/node/node1", "online", "has_memory"]
    assert parse_cpus(("0 1", "1 0")) == {0: True, 1: False}


def test_agent_lists_this_machines_nodes_and_cpus_and_runs_the_allocation() -> None:
    lines = _talk("1 nodes 1\n2 cpus 2\n3 alloc 1 3\n")
    body = lines[lines.index("@@BEGIN 1") + 1:lines.index("@@END 1 0")]
    assert 0 in parse_nodes(tuple(body)).online
    cpus = parse_cpus(tuple(lines[lines.index("@@BEGIN 2") + 1:lines.index("@@END 2 0")]))
    assert cpus[0] is True
    assert "@@END 3 0" in lines and "1+0 records out" in lines


def _cpu_monitor(sock: socket.socket) -> None:
    """QEMU's side: answers every command; after device_del, the events QEMU sent for the CPU."""
    def send(msg: dict[str, Any]) -> None:
        sock.sendall(json.dumps(msg).encode() + b"\r\n")

    send({"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
                  "capabilities": []}})
    buffer, decoder = "", json.JSONDecoder()  # QMP needs no newline between messages
    while chunk := sock.recv(4096):
        buffer += chunk.decode()
        while buffer.strip():
            msg, end = decoder.raw_decode(buffer.lstrip())
            buffer = buffer.lstrip()[end:]
            _answer(send, msg)


def _answer(send: Any, msg: dict[str, Any]) -> None:
    send({"return": {}, **({"id": msg["id"]} if "id" in msg else {})})
    if msg["execute"] == "device_del" and msg["arguments"]["id"] == CPU_PATH:
        for event in CPU_EVENTS:
            send(event | {"timestamp": {"seconds": 0, "microseconds": 0}})


def test_cpu_unplug_is_done_at_the_lapic_device_deleted(tmp_path: Path) -> None:
    ours, theirs = socket.socketpair()
    threading.Thread(target=_cpu_monitor, args=(theirs,), daemon=True).start()
    qmp = QmpSession(tmp_path / "qmp.jsonl")
    qmp.connect(ours, 5)
    outcome = qmp.device_del(CPU_PATH, 10, cpu=True)
    assert outcome.deleted and outcome.reason == f"DEVICE_DELETED {CPU_PATH}/lapic"
    assert [o.status for o in outcome.ost] == [0x84]
    # The same events do not finish a DIMM's unplug: none of them names a DIMM.
    dimm = qmp.device_del("boot1", 1.5)
    assert not dimm.deleted and dimm.ost == ()
    qmp.close()
    theirs.close()


def test_model_names_the_dimm_and_reservation_that_keep_the_node() -> None:
    """test_simulate checks the outcomes of every shipped scenario; here, the words."""
    moved = simulate(load_scenario(MOVABLE)).actions[0]
    assert moved.reason == "DIMM boot1: 8 boot blocks, ZONE_MOVABLE, no boot reservation inside"
    refused = simulate(load_scenario(REFUSED)).actions[0]
    assert refused.reason.startswith("DIMM boot1: memory39: ") and "alloc_low_pages" in refused.reason
