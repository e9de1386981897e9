"""LineStream: console bytes in whatever pieces QEMU wrote them read exactly like the whole
file is read by load_boot_log (decoding, line numbers, kinds)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.logparse import load_boot_log
from harness.logparse.failures import OfflineFailure, Oops, PageFlags, PageHeader, Panic
from harness.logparse.lines import SAMPLE, decode_log
from harness.logparse.parser import BootLogReader
from harness.logparse.reader import MAX_LINE_BYTES, ConsoleLine, LineReader, LineStream

LOGS = sorted((Path(__file__).parents[2] / "fixtures" / "logs").rglob("*.log"))
NO_MOVABLE = next(p for p in LOGS if p.stem == "memhp-6.1-three-node-no-movable-node")


def _feed(data: bytes, sizes: list[int]) -> list[ConsoleLine]:
    stream, out, at = LineStream(), [], 0
    for size in sizes:
        out += stream.feed(data[at:at + size])
        at += size
    return out + stream.feed(data[at:])


def _whole_file(path: Path) -> list[tuple[int, str, tuple[object, ...]]]:
    """What load_boot_log's reading makes of each complete line of the file."""
    reader = LineReader()
    lines = decode_log(path.read_bytes(), path.name).split("\n")[:-1]  # the last has no "\n"
    return [(n, raw.replace("\r", ""), tuple(item for _, item in reader.read(n, raw)))
            for n, raw in enumerate(lines, start=1)]


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_chunked_stream_reads_like_the_whole_file(log: Path) -> None:
    data = log.read_bytes()
    rnd = random.Random(log.stem)
    sizes = [rnd.choice([1, 3, 7, 100, 4096]) for _ in range(400)]
    lines = _feed(data, sizes)
    assert [(line.number, line.text, line.items) for line in lines] == _whole_file(log)


def test_stream_panic_and_offline_failures_match_the_boot_log() -> None:
    lines = _feed(NO_MOVABLE.read_bytes(), [4096] * 20)
    boot = load_boot_log(NO_MOVABLE)
    failures = [i for line in lines for i in line.items if isinstance(i, OfflineFailure)]
    assert [(f.line, f.kind) for f in failures] == [(f.line, f.kind) for f in boot.offline_failures]
    assert not any(isinstance(i, Panic | Oops) for line in lines for i in line.items)
    pages = [(line.number, type(i)) for line in lines for i in line.items if isinstance(i, PageHeader | PageFlags)]
    assert [t for _, t in pages] == [PageHeader, PageFlags] * 2
    assert [n for n, _ in pages] == [n for f in failures for n in (f.line - 4, f.line - 3)]


def test_a_line_is_read_once_complete_and_stray_bytes_decode_as_in_the_file() -> None:
    stream = LineStream()
    assert stream.feed(b"[   10.5] Kernel panic - not sync") == []
    (line,) = stream.feed(b"ing: \xff boom\r\r\nnext")
    assert (line.number, line.text) == (1, "[   10.5] Kernel panic - not syncing: \ufffd boom")
    (panic,) = line.items
    assert panic == Panic(1, "\ufffd boom", "Kernel panic - not syncing: \ufffd boom")
    assert stream.lines_read == 1
    (empty, last) = stream.feed(b"\n\n")
    assert (empty.number, empty.text, empty.items) == (2, "next", ())
    assert (last.number, last.text) == (3, "")


def test_an_endless_line_keeps_only_its_end() -> None:
    stream = LineStream()
    stream.feed(b"x" * (3 * MAX_LINE_BYTES))
    (line,) = stream.feed(b"y\n")
    assert len(line.text) == MAX_LINE_BYTES + 1 and line.text.endswith("xy")


def test_the_binary_check_counts_what_the_per_character_rule_counts() -> None:
    from harness.logparse.lines import _GARBAGE, _is_garbage

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert "".join(_GARBAGE.findall(every)) == "".join(ch for ch in every if _is_garbage(ch))


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_a_console_parsed_as_it_arrives_is_the_boot_log_of_its_file(log: Path) -> None:
    # The run keeps the watcher's parse instead of reading console.log again: it must be
    # the very BootLog load_boot_log makes of the file, whatever the pieces.
    data, rnd = log.read_bytes(), random.Random(log.stem)
    reader = BootLogReader()
    stream, at = LineStream(reader), 0
    while at < len(data):
        size = rnd.randint(1, 4096)
        stream.feed(data[at:at + size])
        at += size
    stream.end()
    assert stream.bytes_read == len(data) and not stream.cut
    assert stream.head == decode_log(data, log.name)[:SAMPLE]
    assert reader.finish(str(log)) == load_boot_log(log)
