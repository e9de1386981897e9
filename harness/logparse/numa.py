"""NUMA init lines (arch/x86/mm/numa.c; 6.12 mm/numa_memblks.c, mm/numa.c)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import HEX, AddressRange, Append, ByKey, First, JsonMixin, LineKind


@dataclass(frozen=True)
class NumaMerge(JsonMixin):
    """``NUMA: Node 0 [mem a-b] + [mem c-d] -> [mem a-d]`` from numa_cleanup_meminfo."""

    line: int
    node: int
    first: AddressRange
    second: AddressRange
    merged: AddressRange


NUMA_MERGE_RE = re.compile(
    rf"NUMA: Node (?P<node>\d+) \[mem (?P<s1>{HEX})-(?P<l1>{HEX})\] \+ "
    rf"\[mem (?P<s2>{HEX})-(?P<l2>{HEX})\] -> \[mem (?P<s3>{HEX})-(?P<l3>{HEX})\]\s*$"
)


def _merge(m: re.Match[str], line: int) -> NumaMerge:
    return NumaMerge(
        line, int(m["node"]),
        AddressRange.from_inclusive(m["s1"], m["l1"]),
        AddressRange.from_inclusive(m["s2"], m["l2"]),
        AddressRange.from_inclusive(m["s3"], m["l3"]),
    )


@dataclass(frozen=True)
class NumaFailure(JsonMixin):
    """Why SRAT NUMA was not used: no coverage, "Not used", or the dummy fallback."""

    line: int
    message: str


NUMA_FAILURE_RE = re.compile(
    r"(?P<msg>NUMA: nodes only cover .*Not used\.|NUMA: no nodes coverage for .*"
    r"|No NUMA configuration found|Faking a node at \[mem .*\])\s*$"
)


def _failure(m: re.Match[str], line: int) -> NumaFailure:
    return NumaFailure(line, m["msg"])


@dataclass(frozen=True)
class NodeData(JsonMixin):
    """``NODE_DATA(1) allocated [mem 0xbfeb9000-0xbfee3fff]``."""

    line: int
    node: int
    range: AddressRange


NODE_DATA_RE = re.compile(rf"NODE_DATA\((?P<node>\d+)\) allocated \[mem (?P<start>{HEX})-(?P<last>{HEX})\]\s*$")


def _node_data(m: re.Match[str], line: int) -> NodeData:
    return NodeData(line, int(m["node"]), AddressRange.from_inclusive(m["start"], m["last"]))


@dataclass(frozen=True)
class NodeDataElsewhere(JsonMixin):
    """``    NODE_DATA(3) on node 0``: the node had no room for its own pg_data_t."""

    line: int
    node: int
    on_node: int


NODE_DATA_ON_RE = re.compile(r"NODE_DATA\((?P<node>\d+)\) on node (?P<on>\d+)\s*$")


def _node_data_on(m: re.Match[str], line: int) -> NodeDataElsewhere:
    return NodeDataElsewhere(line, int(m["node"]), int(m["on"]))


FAILURE = First("numa_failure", "message")
KINDS: tuple[LineKind[object], ...] = (
    LineKind("numa_merge", "NUMA: Node ", NUMA_MERGE_RE, _merge, Append("numa_nodes")),
    LineKind("numa_not_used", "NUMA: nodes only cover", NUMA_FAILURE_RE, _failure, FAILURE),
    LineKind("numa_no_coverage", "NUMA: no nodes coverage", NUMA_FAILURE_RE, _failure, FAILURE),
    LineKind("numa_none_found", "No NUMA configuration found", NUMA_FAILURE_RE, _failure, FAILURE),
    LineKind("numa_fake_node", "Faking a node at", NUMA_FAILURE_RE, _failure, FAILURE),
    LineKind("node_data", ") allocated [mem", NODE_DATA_RE, _node_data, ByKey("node_data", "node", "range")),
    LineKind(
        "node_data_elsewhere", ") on node ", NODE_DATA_ON_RE, _node_data_on,
        ByKey("node_data_elsewhere", "node", "on_node"),
    ),
)
