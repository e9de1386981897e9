"""The guest agent script itself, run by busybox sh on the host with a pipe for its tty."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "harness" / "guest" / "agent.sh"
BUSYBOX = shutil.which("busybox")


def _talk(requests: str) -> list[str]:
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    proc = subprocess.run([BUSYBOX, "sh", str(AGENT)], input=requests, capture_output=True,
                          text=True, timeout=20, check=False)
    return [line for line in proc.stdout.splitlines() if line]


def test_framed_reply_with_status() -> None:
    lines = _talk("1 ping 1\n2 nosuchverb 2\n")
    assert lines[0].startswith("@@MEMHP-READY")
    assert lines[1:4] == ["@@BEGIN 1", "pong", "@@END 1 0"]
    assert lines[4] == "@@BEGIN 2" and lines[-1] == "@@END 2 1"


@pytest.mark.parametrize("damaged", ["nfo", "8 zoneinfo 18", "3 ping", "* ping *", ""])
def test_damaged_request_is_reported_not_run(damaged: str) -> None:
    lines = _talk(f"{damaged}\n4 ping 4\n")
    if damaged:
        assert lines[1] == f"@@GARBLED {damaged}"
    assert lines[-3:] == ["@@BEGIN 4", "pong", "@@END 4 0"]
    assert "pong" not in lines[1:-3]


def _memory_tree(tmp_path: Path, blocks: dict[int, tuple[str, str, int | None]]) -> str:
    """A fake sysfs: block → (state, valid_zones, node or None); the agent script pointed at it."""
    mem, nodes = tmp_path / "memory", tmp_path / "node"
    mem.mkdir()
    for index, (state, zones, node) in blocks.items():
        block = mem / f"memory{index}"
        block.mkdir()
        for name, value in (("state", state), ("phys_index", f"{index:08x}"), ("valid_zones", zones)):
            (block / name).write_text(value + "\n")
        if node is not None:
            (nodes / f"node{node}").mkdir(parents=True, exist_ok=True)
            (nodes / f"node{node}" / f"memory{index}").symlink_to(block)
    return (AGENT.read_text().replace("MEM=/sys/devices/system/memory", f"MEM={mem}")
            .replace("NODE=/sys/devices/system/node", f"NODE={nodes}"))


def _blocks_reply(script: str) -> list[str]:
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    # stderr joins stdout, as the guest's init gives the agent one tty for both.
    proc = subprocess.run([BUSYBOX, "sh", "-c", script], input="1 blocks 1\n", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=20, check=False)
    return [line for line in proc.stdout.splitlines() if line and not line.startswith("@@MEMHP")]


def test_blocks_skips_a_block_removed_while_it_is_listed(tmp_path: Path) -> None:
    """virtio-mem removes memory blocks while the agent lists them: a vanished block's
    files give no line at all, never the shell's "can't open" in the reply."""
    script = _memory_tree(tmp_path, {32: ("online", "Normal", 1), 34: ("offline", "Normal Movable", None)})
    (tmp_path / "memory" / "memory33").mkdir()  # its files already gone
    assert _blocks_reply(script) == ["@@BEGIN 1", "32 32 online 1 Normal",
                                     "34 34 offline none Normal,Movable", "@@END 1 0"]


def test_blocks_come_as_runs_of_consecutive_blocks_alike(tmp_path: Path) -> None:
    """The glob lists memory10 before memory2: a run is only ever numerically consecutive
    blocks, and the host's parse gives back every block with its own state and node."""
    from harness.guest.state import parse_blocks

    tree = {i: ("online", "DMA32", 0) for i in range(0, 12)}
    tree[0] = ("online", "none", 0)
    tree[5] = ("offline", "Normal Movable", 0)
    tree |= {i: ("online", "Movable", 1) for i in range(12, 16)}
    reply = _blocks_reply(_memory_tree(tmp_path, tree))
    assert reply[0] == "@@BEGIN 1" and reply[-1] == "@@END 1 0"
    assert "10 11 online 0 DMA32" in reply and "12 15 online 1 Movable" in reply
    blocks = parse_blocks(tuple(reply[1:-1]))
    assert [(b.index, b.state, b.node, b.valid_zones) for b in blocks] == [
        (i, *tree[i][::2], tuple(tree[i][1].split())) for i in range(16)]


def test_zones_squeezed_for_the_uart_parse_as_the_kernel_printed_them() -> None:
    """The agent squeezes /proc/zoneinfo's padding; read on this host, the zones it gives
    parse to what the unsqueezed file gives."""
    import re

    from harness.guest.state import parse_zoneinfo

    lines = _talk("1 zoneinfo 1\n")
    reply = tuple(lines[lines.index("@@BEGIN 1") + 1:lines.index("@@END 1 0")])
    wanted = re.compile(r"^Node|^ +(spanned|present|managed|start_pfn)")
    raw = tuple(line for line in Path("/proc/zoneinfo").read_text().splitlines() if wanted.match(line))
    assert len(reply) == len(raw) and sum(len(x) for x in reply) < sum(len(x) for x in raw)

    def sizes(lines: tuple[str, ...]) -> list[tuple[int, str, int, int]]:  # managed moves meanwhile
        return [(z.node, z.zone, z.start_pfn, z.spanned) for z in parse_zoneinfo(lines)]

    assert sizes(reply) == sizes(raw) and sizes(reply)
