"""Property tests: no text, shuffle or truncation makes the parser raise."""
from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.pinning import hotplug_findings, reservations_in_hotplug_ranges
from harness.errors import ParseError
from harness.logparse import BootLog, parse_boot_log

LOGS = sorted((Path(__file__).parents[2] / "fixtures" / "logs").glob("*.log"))
TEXTS = [p.read_text() for p in LOGS]
LINES = [t.split("\n") for t in TEXTS]


def _check(log: BootLog) -> None:
    json.dumps(log.to_json())
    hotplug_findings(log)
    reservations_in_hotplug_ranges(log)


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
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\r\t")))
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
    full = parse_boot_log(text)
    assert len(log.memblock_dumps) <= len(full.memblock_dumps) + 1
