"""Property tests: no text, shuffle or truncation makes the parser raise, and a log cut
anywhere states no fact the whole log contradicts."""
from __future__ import annotations

import dataclasses
import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.pinning import HotplugStatus, hotplug_findings, reservations_in_hotplug_ranges
from harness.errors import ParseError
from harness.logparse import BootLog, parse_boot_log
from harness.logparse.memblock_debug import MemblockAlloc

# The hand recordings and the harness's own runs (recorded/).
FIXTURES = Path(__file__).parents[2] / "fixtures" / "logs"
LOGS = sorted(FIXTURES.rglob("*.log"))
TEXTS = [p.read_text() for p in LOGS]
LINES = [t.split("\n") for t in TEXTS]


def test_every_recorded_log_is_fuzzed() -> None:
    """Both folders are read, and no golden log (one with an expected file) escapes."""
    golden = {p.with_name(p.name.removesuffix(".expected.json") + ".log")
              for p in FIXTURES.rglob("*.expected.json")}
    assert {p.parent.name for p in LOGS} == {"logs", "recorded"}
    assert set(LOGS) == golden and len(LOGS) >= 16


def _check(log: BootLog) -> None:
    json.dumps(log.to_json())
    hotplug_findings(log)
    reservations_in_hotplug_ranges(log)


@cache
def _full(index: int) -> BootLog:
    return parse_boot_log(TEXTS[index])


def _is_prefix(part: tuple[Any, ...], whole: tuple[Any, ...]) -> bool:
    return whole[: len(part)] == part


def _contradictions(part: BootLog, whole: BootLog) -> list[str]:
    """Facts of ``part`` (a parse of a prefix of the log) that the whole log's parse denies."""
    out = []
    for f in dataclasses.fields(BootLog):
        mine, theirs = getattr(part, f.name), getattr(whole, f.name)
        if f.name in {"memblock_ops", "memblock_dumps", "memblock_debug", "unparsed_suspicious",
                      "suspicious_examples"}:
            continue  # below: what a cut may leave open
        if isinstance(mine, tuple) and not _is_prefix(mine, theirs):
            out.append(f.name)
        elif isinstance(mine, dict) and any(theirs.get(k) != v for k, v in mine.items()):
            out.append(f.name)
        elif not isinstance(mine, (tuple, dict, bool)) and mine is not None and mine != theirs \
                and f.name != "source":
            out.append(f.name)
    ops = part.memblock_ops
    # The last request may still wait for its answer (the reserve line after the cut), and
    # for the line after that which names a caller the log hid (named_by_next).
    if ops and isinstance(ops[-1], MemblockAlloc) and ops[-1].result is None:
        last = whole.memblock_ops[len(ops) - 1] if len(whole.memblock_ops) >= len(ops) else None
        if not isinstance(last, MemblockAlloc) or dataclasses.replace(
                last, result=None, result_line=None, named_by_next=ops[-1].named_by_next) != ops[-1]:
            out.append("memblock_ops (open request)")
        ops = ops[:-1]
    # The line naming a hidden caller (named_by_next) may lie after the cut.
    last = ops[-1] if ops else None
    named = whole.memblock_ops[len(ops) - 1] if last is not None and len(whole.memblock_ops) >= len(ops) else None
    if isinstance(last, MemblockAlloc) and isinstance(named, MemblockAlloc) and last.named_by_next is None:
        ops = (*ops[:-1], dataclasses.replace(last, named_by_next=named.named_by_next))
    if not _is_prefix(ops, whole.memblock_ops):
        out.append("memblock_ops")
    # A dump cut short lists fewer regions; every complete one is the kernel's whole dump.
    dumps = part.memblock_dumps
    if dumps and not _is_prefix(dumps[:-1], whole.memblock_dumps):
        out.append("memblock_dumps")
    whole_findings = {f.node: f.status for f in hotplug_findings(whole)}
    for finding in hotplug_findings(part):
        if finding.status is not HotplugStatus.UNKNOWN and finding.status != whole_findings.get(finding.node):
            out.append(f"hotplug finding of node {finding.node}: {finding.status.value}")
    return out


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_parses_or_is_called_binary(text: str) -> None:
    try:
        log = parse_boot_log(text, "fuzz")
    except ParseError as err:
        assert str(err).startswith("fuzz: offset ")
        return
    _check(log)


@settings(max_examples=200, deadline=None)
# U+FFFD is what decoding undecodable bytes leaves: check_text counts it as binary evidence.
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffd")
               | st.sampled_from("\n\r\t")))
def test_printable_text_never_raises(text: str) -> None:
    _check(parse_boot_log(text))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(range(len(LINES))), st.randoms(use_true_random=False))
def test_shuffled_real_log_never_raises(index: int, rnd: random.Random) -> None:
    lines = list(LINES[index])
    rnd.shuffle(lines)
    _check(parse_boot_log("\n".join(lines)))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(range(len(TEXTS))), st.integers(min_value=0), st.integers(min_value=0, max_value=400))
def test_truncated_or_garbled_real_log_never_raises(index: int, cut: int, noise_at: int) -> None:
    text = TEXTS[index]
    cut %= len(text) + 1
    prefix = text[:cut]
    log = parse_boot_log(prefix[:noise_at] + "\x00#garble#" + prefix[noise_at:])
    _check(log)
    full = _full(index)
    assert len(log.memblock_dumps) <= len(full.memblock_dumps) + 1


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(range(len(TEXTS))), st.floats(min_value=0, max_value=1))
def test_a_prefix_states_no_fact_the_whole_log_denies(index: int, share: float) -> None:
    """A serial cut or an excerpt: whatever the prefix states, the whole log states too."""
    text = TEXTS[index]
    part = parse_boot_log(text[: int(len(text) * share)])
    assert _contradictions(part, _full(index)) == []
    assert part.unparsed_suspicious <= _full(index).unparsed_suspicious + 1


@pytest.mark.parametrize("index", range(len(TEXTS)), ids=[p.stem for p in LOGS])
def test_every_line_end_and_its_digits_cut_state_no_denied_fact(index: int) -> None:
    """Exhaustively at the lines that matter most: each line of the second MEMBLOCK dump
    and the Movable zone lines, cut after each of its characters."""
    text, whole = TEXTS[index], _full(index)
    starts = [whole.memblock_dumps[-1].line] if whole.memblock_dumps else []
    lines = text.split("\n")
    wanted = {n for s in starts for n in range(s, s + 12)} | {
        n for n, line in enumerate(lines, 1) if "Movable zone start" in line or "  Node " in line}
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for number in sorted(n for n in wanted if n <= len(lines)):
        begin = offsets[number - 1]
        for cut in range(begin, begin + len(lines[number - 1]) + 1, 3):
            assert _contradictions(parse_boot_log(text[:cut]), whole) == [], (LOGS[index].name, number, cut)
