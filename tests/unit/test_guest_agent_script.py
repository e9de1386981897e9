"""The guest agent script itself, run by busybox sh on the host with a pipe for its tty."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from harness.guest.static_helper import static_helper

AGENT = Path(__file__).resolve().parents[2] / "harness" / "guest" / "agent.sh"
BUSYBOX = shutil.which("busybox")


@pytest.fixture(scope="module")
def state_helper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guest's state helper, built for this host as for the guest (static)."""
    path = tmp_path_factory.mktemp("helper") / "memhp-state"
    path.write_bytes(static_helper("state"))
    path.chmod(0o755)
    return path


def _agent_text(helper: Path) -> str:
    return AGENT.read_text().replace("STATE=/bin/memhp-state", f"STATE={helper}")


def _talk(requests: str, script: str | None = None) -> list[str]:
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    argv = [BUSYBOX, "sh", "-c", script] if script is not None else [BUSYBOX, "sh", str(AGENT)]
    proc = subprocess.run(argv, input=requests, capture_output=True, text=True, timeout=20, check=False)
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


def _memory_tree(tmp_path: Path, helper: Path, blocks: Mapping[int, tuple[str, str, int | None]]) -> str:
    """A fake sysfs: block → (state, valid_zones, node or None); the agent script pointed at it."""
    mem, nodes = tmp_path / "memory", tmp_path / "node"
    mem.mkdir()
    (mem / "block_size_bytes").write_text("8000000\n")
    for index, (state, zones, node) in blocks.items():
        block = mem / f"memory{index}"
        block.mkdir()
        for name, value in (("state", state), ("valid_zones", zones)):
            (block / name).write_text(value + "\n")
        if node is not None:
            (nodes / f"node{node}").mkdir(parents=True, exist_ok=True)
            (nodes / f"node{node}" / f"memory{index}").symlink_to(block)
    return (_agent_text(helper).replace("MEM=/sys/devices/system/memory", f"MEM={mem}")
            .replace("NODE=/sys/devices/system/node", f"NODE={nodes}"))


def _reply(script: str, request: str = "1 blocks 1") -> list[str]:
    if BUSYBOX is None:
        pytest.skip("busybox not installed (scripts/setup installs busybox-static)")
    # stderr joins stdout, as the guest's init gives the agent one tty for both.
    proc = subprocess.run([BUSYBOX, "sh", "-c", script], input=request + "\n", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=20, check=False)
    return [line for line in proc.stdout.splitlines() if line and not line.startswith("@@MEMHP")]


def test_blocks_skips_a_block_removed_while_it_is_listed(tmp_path: Path, state_helper: Path) -> None:
    """virtio-mem removes memory blocks while the agent lists them: a vanished block's
    files give no line at all, never an error in the reply."""
    script = _memory_tree(tmp_path, state_helper,
                          {32: ("online", "Normal", 1), 34: ("offline", "Normal Movable", 1)})
    (tmp_path / "memory" / "memory33").mkdir()  # its files already gone
    assert _reply(script) == ["@@BEGIN 1", "32 32 online 1 Normal",
                              "34 34 offline 1 Normal,Movable", "@@END 1 0"]


def test_blocks_does_not_read_the_zones_of_a_block_without_its_node(tmp_path: Path,
                                                                     state_helper: Path) -> None:
    """A block hot-added a moment ago, not yet under its node: the listing says so ("none")
    without its zones. Its valid_zones is not read: the kernel oopses there (NODE_DATA of
    NUMA_NO_NODE, 6.12 valid_zones_show); the fake file here would answer, so a read would
    show in the reply. It used to be read and listed as "offline none Normal,Movable".
    An online block's valid_zones is its zone (no nid read): still read."""
    script = _memory_tree(tmp_path, state_helper,
                          {32: ("online", "Normal", 1), 34: ("offline", "Normal Movable", None),
                           35: ("online", "Movable", None)})
    assert _reply(script) == ["@@BEGIN 1", "32 32 online 1 Normal", "34 34 offline none",
                              "35 35 online none Movable", "@@END 1 0"]


def test_blocks_read_zones_without_node_links_on_a_kernel_without_numa(tmp_path: Path,
                                                                        state_helper: Path) -> None:
    """No node folder at all (CONFIG_NUMA off): no block has a link, and every nid is the
    one pgdat, so the zones are read as ever."""
    script = _memory_tree(tmp_path, state_helper, {3: ("offline", "Normal Movable", None)})
    assert _reply(script) == ["@@BEGIN 1", "3 3 offline none Normal,Movable", "@@END 1 0"]


def test_blocks_come_as_runs_of_consecutive_blocks_alike(tmp_path: Path, state_helper: Path) -> None:
    """A directory lists memory10 before memory2: a run is only ever numerically consecutive
    blocks, and the host's parse gives back every block with its own state and node."""
    from harness.guest.state import parse_blocks

    tree = {i: ("online", "DMA32", 0) for i in range(0, 12)}
    tree[0] = ("online", "none", 0)
    tree[5] = ("offline", "Normal Movable", 0)
    tree |= {i: ("online", "Movable", 1) for i in range(12, 16)}
    reply = _reply(_memory_tree(tmp_path, state_helper, tree))
    assert reply[0] == "@@BEGIN 1" and reply[-1] == "@@END 1 0"
    assert reply[1:-1] == ["0 0 online 0 none", "1 4 online 0 DMA32", "5 5 offline 0 Normal,Movable",
                           "6 11 online 0 DMA32", "12 15 online 1 Movable"]
    blocks = parse_blocks(tuple(reply[1:-1]))
    assert [(b.index, b.state, b.node, b.valid_zones) for b in blocks] == [
        (i, *tree[i][::2], tuple(tree[i][1].split())) for i in range(16)]


def test_zones_squeezed_for_the_uart_parse_as_the_kernel_printed_them(state_helper: Path) -> None:
    """The agent squeezes /proc/zoneinfo's padding; read on this host, the zones it gives
    parse to what the unsqueezed file gives."""
    import re

    from harness.guest.state import parse_zoneinfo

    lines = _talk("1 zoneinfo 1\n", _agent_text(state_helper))
    reply = tuple(lines[lines.index("@@BEGIN 1") + 1:lines.index("@@END 1 0")])
    wanted = re.compile(r"^Node|^ +(spanned|present|managed|start_pfn)")
    raw = tuple(line for line in Path("/proc/zoneinfo").read_text().splitlines() if wanted.match(line))
    assert len(reply) == len(raw) and sum(len(x) for x in reply) < sum(len(x) for x in raw)

    def sizes(lines: tuple[str, ...]) -> list[tuple[int, str, int, int]]:  # managed moves meanwhile
        return [(z.node, z.zone, z.start_pfn, z.spanned) for z in parse_zoneinfo(lines)]

    assert sizes(reply) == sizes(raw) and sizes(reply)


def test_snapshot_is_block_size_blocks_and_zones_in_one_reply(tmp_path: Path, state_helper: Path) -> None:
    """What GuestVM.snapshot parses: the block size, the runs, ``zones``, then this host's
    zoneinfo and meminfo lines (the fake sysfs has no zones of its own)."""
    from harness.guest.state import parse_blocks, parse_zoneinfo

    reply = _reply(_memory_tree(tmp_path, state_helper, {3: ("online", "Movable", 2), 4: ("online", "Movable", 2)}),
                   "7 snapshot 7")
    assert reply[:4] == ["@@BEGIN 7", "block_size 8000000", "3 4 online 2 Movable", "zones"]
    assert reply[-1] == "@@END 7 0"
    rest = tuple(reply[4:-1])
    assert [b.index for b in parse_blocks(("3 4 online 2 Movable",))] == [3, 4]
    assert parse_zoneinfo(tuple(x for x in rest if not x.startswith("Mem")))
    assert [x.split(":")[0] for x in rest if x.startswith("Mem")] == ["MemTotal", "MemFree"]


def test_snapshot_without_a_block_size_fails_not_half_answers(tmp_path: Path, state_helper: Path) -> None:
    script = _memory_tree(tmp_path, state_helper, {3: ("online", "Movable", 2)})
    (tmp_path / "memory" / "block_size_bytes").unlink()
    assert _reply(script, "7 snapshot 7") == ["@@BEGIN 7", "@@END 7 1"]


def test_pageflags_counts_each_flag_and_names_the_first_reserved_pfns(tmp_path: Path, state_helper: Path) -> None:
    """kpageflags bits (include/uapi/linux/kernel-page-flags.h, KPF_RESERVED from
    include/linux/kernel-page-flags.h); a hole (NOPAGE) counts as nothing else, and a read
    past the end counts what there was."""
    from harness.guest.state import parse_pageflags

    lru, slab, buddy, nopage, pgtable, reserved = (1 << b for b in (5, 7, 10, 20, 26, 32))
    flags = [reserved | slab] * 10 + [nopage | reserved] * 3 + [buddy] * 4 + [pgtable, lru | buddy]
    table = tmp_path / "kpageflags"
    table.write_bytes(b"".join(f.to_bytes(8, "little") for f in [0] * 0x100 + flags))
    out = subprocess.run([str(state_helper), "pageflags", "0x100", "100", str(table)], capture_output=True,
                         text=True, check=True).stdout
    summary = parse_pageflags(5, tuple(out.splitlines()))
    assert (summary.pages, summary.nopage, summary.reserved, summary.slab, summary.pgtable, summary.buddy,
            summary.lru) == (19, 3, 10, 10, 1, 5, 1)
    assert summary.first_reserved_pfns == tuple(range(0x100, 0x108))


def test_pageflags_verb_reads_this_hosts_kpageflags(state_helper: Path) -> None:
    if not os.access("/proc/kpageflags", os.R_OK):
        pytest.skip("/proc/kpageflags needs root")
    from harness.guest.state import parse_pageflags

    lines = _talk("3 pageflags 0 512 3\n", _agent_text(state_helper))
    reply = tuple(lines[lines.index("@@BEGIN 3") + 1:lines.index("@@END 3 0")])
    assert parse_pageflags(0, reply).pages == 512
