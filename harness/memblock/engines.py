"""The two memblock engines behind :class:`harness.memblock.ops.Engine`.

``python_engine`` is the port in :mod:`harness.memblock.sim`; :class:`KernelEngine`
runs the kernel's own mm/memblock.c in a replay driver process and is the oracle
the port is tested against.
"""
from __future__ import annotations

import math
import re
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from harness.errors import BadInputError, InfrastructureError
from harness.memblock import ops as ops
from harness.memblock.kernel_engine.build import (
    TreeApi,
    build_replay_driver,
    tree_api,
    tree_release,
)
from harness.memblock.model import Memblock, MemblockRegion, MemblockType
from harness.memblock.ops import ALLOCATING_OPS, Op, op_name, to_line
from harness.memblock.sim import MemblockSim
from kernels.profile import MemblockRules
from kernels.source import source_tree


def python_engine(kernel: MemblockRules | str, max_numnodes: int = 1024,
                  movable_node: bool = False, mirrored_kernelcore: bool = False) -> MemblockSim:
    return MemblockSim(kernel, max_numnodes, movable_node, mirrored_kernelcore)


# tools/include/asm/bug.h's WARN_ON; the driver sends stderr down its stdout
_WARN_LINE = re.compile(r"assertion failed at \S*memblock\.c:(\d+)$")

# ops a tree may lack → the TreeApi field that says it has them
_API_OF: dict[type, str] = {
    ops.ReserveNid: "reserve_nid", ops.ReserveKern: "reserve_nid",
    ops.MarkKhoScratch: "kho_scratch", ops.ClearKhoScratch: "kho_scratch",
    ops.AllocHugetlb: "alloc_hugetlb",
}


def nodes_shift_for(max_numnodes: int) -> int:
    shift = int(math.log2(max_numnodes)) if max_numnodes > 0 else -1
    if shift < 0 or 1 << shift != max_numnodes:
        raise ValueError(f"max_numnodes must be a power of two (1 << NODES_SHIFT), "
                         f"not {max_numnodes}")
    return shift


class KernelEngine:
    """mm/memblock.c of ``tree`` (default: Debian's linux-source-<series>) behind a pipe.

    The tree alone decides the behaviour, and ``api`` what it can be asked; ``series``
    only finds the default tree. A context manager; ``close()`` is safe to call twice.
    """

    def __init__(self, series: str | None = None, max_numnodes: int = 1024,
                 movable_node: bool = False, mirrored_kernelcore: bool = False,
                 tree: Path | None = None) -> None:
        if tree is None:
            if series is None:
                raise ValueError("KernelEngine needs a kernel series or a tree")
            tree = source_tree(series)
        self.tree = tree
        self.api: TreeApi = tree_api(tree)
        # the release whose mm/memblock.c runs, whatever the log says it was
        self.release = tree_release(tree)
        # The WARN_ONs mm/memblock.c printed, as its source states them, in order.
        self.warnings: list[str] = []
        self._source_lines: list[str] | None = None
        binary = build_replay_driver(tree, nodes_shift_for(max_numnodes))
        try:
            self._proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True, bufsize=1)
        except OSError as err:
            raise InfrastructureError(f"cannot start {binary}: {err}") from err
        self._command(f"movable_node {int(movable_node)}")
        self._command(f"mirrored_kernelcore {int(mirrored_kernelcore)}")

    def __enter__(self) -> KernelEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=30)

    def _read_result(self, sent: str) -> tuple[list[str], str]:
        """Lines printed before the ``=`` line, and the value after ``=``."""
        assert self._proc.stdout is not None
        lines: list[str] = []
        while True:
            line = self._proc.stdout.readline()
            if not line:
                # its stderr comes down stdout: the last lines say why
                said = "; ".join(lines[-3:])
                raise InfrastructureError(f"kernel engine exited (status {self._proc.wait()}) "
                                          f"after {sent!r}{': ' + said if said else ''}")
            if line.startswith("!"):
                raise InfrastructureError(f"kernel engine rejected {sent!r}: {line[1:].strip()}")
            if line.startswith("="):
                return lines, line[1:].strip()
            warned = _WARN_LINE.match(line)
            if warned:
                self.warnings.append(self._warn_source(int(warned.group(1))))
                continue
            lines.append(line.rstrip("\n"))

    def _warn_source(self, lineno: int) -> str:
        """The statement at ``lineno`` of the tree's mm/memblock.c (the WARN_ON that fired)."""
        if self._source_lines is None:
            self._source_lines = (self.tree / "mm/memblock.c").read_text(errors="replace").splitlines()
        return self._source_lines[lineno - 1].strip()

    def _command(self, line: str) -> str:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        return self._read_result(line)[1]

    def _check_api(self, op: Op) -> None:
        need = _API_OF.get(type(op))
        if need and not getattr(self.api, need):
            raise BadInputError(f"{self.tree}: mm/memblock.c has no {op_name(op)} "
                                f"(the trace is for another kernel)")

    def run(self, op: Op) -> int | None:
        """One op; allocations and searches map the kernel's 0 to None."""
        self._check_api(op)
        value = self._command(to_line(op))
        if not value:
            return None
        result = int(value)
        if isinstance(op, ALLOCATING_OPS):
            return result or None
        return result

    def run_batch(self, ops: Iterable[Op]) -> list[int | None]:
        """Many ops through the pipe at once (the driver answers in order)."""
        ops = list(ops)
        for op in ops:
            self._check_api(op)
        stdin = self._proc.stdin
        assert stdin is not None
        text = "".join(to_line(op) + "\n" for op in ops)

        def feed() -> None:
            stdin.write(text)
            stdin.flush()

        # Write from a thread: the driver's answers would fill the pipe and block both sides.
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        results: list[int | None] = []
        for op in ops:
            value = self._read_result(to_line(op))[1]
            result = int(value) if value else None
            results.append(result or None if isinstance(op, ALLOCATING_OPS) else result)
        writer.join()
        return results

    def elapsed_ns(self) -> int:
        """Time the driver spent inside mm/memblock.c so far."""
        return int(self._command("time"))

    def state(self) -> Memblock:
        assert self._proc.stdin is not None
        self._proc.stdin.write("dump\n")
        lines, _ = self._read_result("dump")
        return _parse_dump(lines)

    # -- the Engine protocol ------------------------------------------------------

    def _code(self, op: Op) -> int:
        result = self.run(op)
        assert result is not None
        return result

    def add(self, base: int, size: int) -> int:
        return self._code(ops.Add(base, size))

    def add_node(self, base: int, size: int, nid: int, flags: int) -> int:
        return self._code(ops.AddNode(base, size, nid, flags))

    def reserve(self, base: int, size: int) -> int:
        return self._code(ops.Reserve(base, size))

    def reserve_nid(self, base: int, size: int, nid: int, flags: int) -> int:
        return self._code(ops.ReserveNid(base, size, nid, flags))

    def reserve_kern(self, base: int, size: int) -> int:
        return self._code(ops.ReserveKern(base, size))

    def mark_kho_scratch(self, base: int, size: int) -> int:
        return self._code(ops.MarkKhoScratch(base, size))

    def clear_kho_scratch(self, base: int, size: int) -> int:
        return self._code(ops.ClearKhoScratch(base, size))

    def alloc_hugetlb(self, size: int, nid: int, exact_nid: bool) -> int | None:
        return self.run(ops.AllocHugetlb(size, nid, exact_nid))

    def remove(self, base: int, size: int) -> int:
        return self._code(ops.Remove(base, size))

    def phys_free(self, base: int, size: int) -> int:
        return self._code(ops.PhysFree(base, size))

    def mark_hotplug(self, base: int, size: int) -> int:
        return self._code(ops.MarkHotplug(base, size))

    def clear_hotplug(self, base: int, size: int) -> int:
        return self._code(ops.ClearHotplug(base, size))

    def mark_mirror(self, base: int, size: int) -> int:
        return self._code(ops.MarkMirror(base, size))

    def mark_nomap(self, base: int, size: int) -> int:
        return self._code(ops.MarkNomap(base, size))

    def set_node(self, base: int, size: int, type: str, nid: int) -> int:
        return self._code(ops.SetNode(base, size, type, nid))

    def set_bottom_up(self, enable: bool) -> None:
        self.run(ops.SetBottomUp(enable))

    def set_current_limit(self, limit: int) -> None:
        self.run(ops.SetCurrentLimit(limit))

    def phys_alloc_range(self, size: int, align: int, start: int, end: int) -> int | None:
        return self.run(ops.PhysAllocRange(size, align, start, end))

    def alloc_range_nid(self, size: int, align: int, start: int, end: int, nid: int,
                        exact_nid: bool) -> int | None:
        return self.run(ops.AllocRangeNid(size, align, start, end, nid, exact_nid))

    def alloc_try_nid(self, size: int, align: int, min_addr: int, max_addr: int,
                      nid: int) -> int | None:
        return self.run(ops.AllocTryNid(size, align, min_addr, max_addr, nid))

    def alloc_exact_nid_raw(self, size: int, align: int, min_addr: int, max_addr: int,
                            nid: int) -> int | None:
        return self.run(ops.AllocExactNidRaw(size, align, min_addr, max_addr, nid))

    def find_in_range_node(self, size: int, align: int, start: int, end: int, nid: int,
                           flags: int = 0) -> int | None:
        return self.run(ops.FindInRangeNode(size, align, start, end, nid, flags))


def _parse_dump(lines: list[str]) -> Memblock:
    """The driver's dump: a bottom_up/current_limit line, then each type's header and regions."""
    words = lines[0].split()
    memblock = Memblock(bottom_up=words[1] == "1", current_limit=int(words[3]))
    pos = 1
    for attr in ("memory", "reserved"):
        name, cnt, max_ = lines[pos].split()
        regions = []
        for line in lines[pos + 1:pos + 1 + int(cnt)]:
            base, size, flags, nid = (int(w) for w in line.split())
            regions.append(MemblockRegion(base, size, flags, nid))
        setattr(memblock, attr, MemblockType(name, regions, int(max_)))
        pos += 1 + int(cnt)
    return memblock
