"""Turn a captured console or dmesg text into (line number, message) pairs.

A serial capture ends lines with ``\\r\\r\\n``; dmesg with ``\\n``.  Messages may carry a
``[    0.000000] `` timestamp, a ``<6>`` level, a ``[    T1]`` caller id, or a
journalctl ``Mon DD HH:MM:SS host kernel: `` prefix.  When two messages were glued onto
one physical line (interleaved output from a second CPU or userspace) each timestamp
starts a new message with the same line number.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from harness.errors import ParseError

_STAMP = re.compile(r"(?:<\d+>)?\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])? ?")
_JOURNAL = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ kernel: ")
_LEVEL = re.compile(r"^<\d+>")

# Above this share of control/replacement characters a "log" is binary data, not text.
_BINARY_RATIO = 0.3
SAMPLE = 1 << 16  # what check_text reads of a text (also the console watcher's sample)


def check_text(text: str, source: str) -> None:
    """Raise ParseError if ``text`` is binary data rather than a (possibly noisy) log."""
    sample = text[:SAMPLE]
    if not sample:
        return
    bad = len(_GARBAGE.findall(sample))
    if bad / len(sample) > _BINARY_RATIO:
        first = next(i for i, ch in enumerate(sample) if _is_garbage(ch))
        raise ParseError(
            f"{source}: offset {first:#x}",
            f"not a text log ({bad} of the first {len(sample)} characters are control bytes)",
        )


# _is_garbage as one regex (Unicode category Cc is exactly U+0000-001F and U+007F-009F):
# a character loop over every boot log cost ~0.1 s of CPU per run.
_GARBAGE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd]")


def _is_garbage(ch: str) -> bool:
    if ch in "\t\n\r\x1b":
        return False
    return ch == "\ufffd" or unicodedata.category(ch) == "Cc"


def decode_log(data: bytes, source: str) -> str:
    """Bytes of a capture → text; stray bytes become U+FFFD, binary data is an error."""
    text = data.decode("utf-8", errors="replace")
    check_text(text, source)
    return text


def line_messages(number: int, raw: str) -> Iterator[tuple[int, str]]:
    """Yield ``(number, message text)`` for each message on one physical line (no ``\n``)."""
    line = raw.replace("\r", "")
    journal = _JOURNAL.match(line)
    if journal:
        line = line[journal.end():]
    yield from _split_stamps(number, line)


def _split_stamps(number: int, line: str) -> Iterator[tuple[int, str]]:
    stamps = list(_STAMP.finditer(line))
    if not stamps:
        if line:
            yield number, _LEVEL.sub("", line)
        return
    head = line[: stamps[0].start()]
    if head.strip():
        yield number, head
    for stamp, following in zip(stamps, stamps[1:] + [None], strict=True):
        end = following.start() if following else len(line)
        yield number, line[stamp.end():end]
