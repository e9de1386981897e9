"""A field log as people paste it → the kernel's own lines.

A field bug arrives as whatever the customer ran: ``dmesg`` with or without ``-T``/``-H``/
``-x``/``-d``, ``journalctl -k -o short…``, a syslog file, an e-mail (quoted, perhaps
quoted-printable), a bug tracker's page (HTML entities).  Each form puts its own prefix
before the kernel's message; the line kinds (:mod:`harness.logparse.reader`) only know the
kernel's message, optionally after a ``[    0.000000] `` stamp.  So every line is taken
apart here by the prefix its form prints and handed on as the kernel printed it: the
plain dmesg form, ``[seconds] message`` (the seconds when the form shows them), at the
line number it had in the file.  A form that hides the boot-time stamp (wall clock) gives
the message alone.  A prefix left in front of the message is what made the line kinds
anchored at its start miss: ``Command line:``, ``Linux version``, the e820 map and the
``MEMBLOCK configuration:`` dumps (whose reservations name callers like alloc_low_pages).

The form is detected line by line (the form most lines match is the one reported); lines
of other programs in a syslog are skipped; a kernel line that syslog split over two lines
(its continuation carries the syslog prefix but no kernel stamp) is joined again.
"""
from __future__ import annotations

import html
import quopri
import re
from collections import Counter
from dataclasses import dataclass

DMESG = "dmesg"
NO_STAMPS = "no timestamps (dmesg -t or journalctl -o cat)"

# Prefixes that a host-prefixed form puts between its clock and the message:
# "host kernel: " (journalctl, syslog), "host kernel[0]: ", "host systemd[1]: ".
_HOST = r" (?P<host>\S+) (?P<ident>[^\s:\[]+)(?:\[\d+\])?:(?: |$)"
_KERNEL_HOST = r" (?P<host>\S+) (?P<ident>kernel):(?: |$)"
_KERNEL_STAMP = r"(?:<\d+>)?\[\s*(?P<sec>\d+\.\d+)\](?:\[\s*[TC]\d+\])? ?"


@dataclass(frozen=True)
class _Form:
    name: str
    pattern: re.Pattern[str]
    host: bool = False  # the form names a host and a program before the message
    # Once most lines are in this form: its lines of any program (see short-monotonic).
    loose: re.Pattern[str] | None = None


# Order matters where one pattern is a prefix of another: short-monotonic before plain
# dmesg, the precise clocks before the plain ones.  Formats: util-linux dmesg.c
# (print_timestamp: -T ctime "%a %b %e %H:%M:%S %Y", -H "%b%e %H:%M" headers and
# "[  %+8.6f]" deltas, -d "<delta>", iso "%Y-%m-%dT%H:%M:%S,%06ld%z"); systemd
# src/shared/logs-show.c output_timestamp_* for the journalctl short modes.
_FORMS: tuple[_Form, ...] = (
    # Only the kernel's own lines: a plain line's message may read "host ident: " too.
    _Form("journalctl -o short-monotonic", re.compile(r"^\[\s*(?P<sec>\d+\.\d+)\]" + _KERNEL_HOST), True,
          re.compile(r"^\[\s*(?P<sec>\d+\.\d+)\]" + _HOST)),
    _Form(DMESG, re.compile("^" + _KERNEL_STAMP)),
    _Form("journalctl -o short-delta", re.compile(r"^\[\s*(?P<sec>\d+\.\d+) <\s*\d+\.\d+>\]" + _KERNEL_HOST), True,
          re.compile(r"^\[\s*(?P<sec>\d+\.\d+) <\s*\d+\.\d+>\]" + _HOST)),
    _Form("dmesg -d", re.compile(r"^\[\s*(?P<sec>\d+\.\d+) <\s*\d+\.\d+>\] ?")),
    # /dev/kmsg records (Documentation/ABI/testing/dev-kmsg): "level,seq,usec,flags;message".
    _Form("/dev/kmsg", re.compile(r"^\d+,\d+,(?P<usec>\d+),[^;]*;")),
    _Form("dmesg -T", re.compile(r"^\[(?P<wall>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\] ?")),
    _Form("dmesg -H", re.compile(r"^\[\s*(?P<delta>[+-]\d+\.\d+)\] ?|^\[(?P<wall>[A-Z][a-z]{2}[ \d]\d \d\d:\d\d)\] ?")),
    _Form("dmesg --time-format=iso",
          re.compile(r"^(?P<wall>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d+[+-]\d\d:?\d\d) ")),
    _Form("journalctl -o short-iso-precise",
          re.compile(r"^(?P<wall>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:[+-]\d\d:?\d\d|Z))" + _HOST), True),
    _Form("journalctl -o short-iso",
          re.compile(r"^(?P<wall>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:?\d\d|Z))" + _HOST), True),
    _Form("journalctl -o short-full",
          re.compile(r"^(?P<wall>[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Za-z0-9+-]+)" + _HOST),
          True),
    _Form("journalctl -o short-precise",
          re.compile(r"^(?P<wall>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d\.\d+)" + _HOST), True),
    _Form("journalctl -o short", re.compile(r"^(?P<wall>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)" + _HOST), True),
    _Form("journalctl -o short-unix", re.compile(r"^(?P<wall>\d{9,}\.\d+)" + _HOST), True),
    # A journal or syslog pasted with its clock cut off: "linux kernel: …" (a linux-mm mail).
    _Form("journalctl or syslog, clock cut", re.compile("^" + _KERNEL_HOST[1:]), True),
)
_BY_NAME = {f.name: f for f in _FORMS}
_SAMPLE = 2000  # lines whose form decides which form is tried first
_IN_MESSAGE = re.compile(_KERNEL_STAMP)  # klogd/imklog keep the kernel's stamp after "kernel: "

# journalctl between boots: "-- Boot 0123abcd… --" (current systemd), "-- Reboot --" (older).
BOOT_MARKER = re.compile(r"^-- (?:Boot [0-9a-f]+|Reboot) --\s*$")
# util-linux dmesg -x: "kern  :info  : " before the rest of the line.
_FACILITY = re.compile(
    r"^(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|res[0-3]|local[0-7])\s*:"
    r"(?:emerg|alert|crit|err|warn|notice|info|debug)\s*: ")
_X = "dmesg -x facility"
# E-mail quoting, "> " or ">>>>> " or "> > ".
_QUOTE = re.compile(r"^(?:[ \t]{0,3}>)+ ?")
# dmesg --color=always, or a terminal copied with its colours.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A bug tracker's page: "SRAT: PXM 0 -&gt; APIC 0x00 -&gt; Node 0".
_ENTITY = re.compile(r"&(?:gt|lt|amp|quot|apos|nbsp|#\d+|#x[0-9a-fA-F]+);")
# An e-mail body sent quoted-printable: soft breaks ("=" at a line's end) and "=3D".
_QP_HEADER = re.compile(r"^Content-Transfer-Encoding:\s*quoted-printable\s*$", re.I | re.M)
_QP_SOFT_BREAK = re.compile(r"=\r?\n")


@dataclass(frozen=True)
class KernelLine:
    """One kernel message as the kernel printed it, at its line in the pasted file."""

    number: int  # 1-based line of the file (the first one, for a message syslog split)
    text: str  # the message, no prefix, no stamp
    stamp: float | None  # seconds since boot, where the form shows them (dmesg -H: summed)
    wall: str | None  # the wall clock the form printed instead, as printed
    form: str

    def plain(self) -> str:
        """The line as plain ``dmesg`` prints it."""
        return self.text if self.stamp is None else f"[{self.stamp:12.6f}] {self.text}"


@dataclass(frozen=True)
class Reading:
    """What the reader made of a pasted text."""

    form: str  # the form most kernel lines were in
    notes: tuple[str, ...]  # what else was undone: CRLF, quoting, entities, joins, skips
    lines: tuple[KernelLine, ...]
    boot_markers: tuple[int, ...]  # line numbers of journalctl's "-- Boot … --"
    line_count: int
    terminated: bool  # the text ended with a newline (its last line is complete)

    @property
    def read_as(self) -> str:
        return self.form + (f" ({', '.join(self.notes)})" if self.notes else "")


def _quoted_printable(text: str) -> bool:
    """Whether ``text`` is a quoted-printable mail body: the mail says so, or its soft
    line breaks and ``=3D`` show it (a log with a literal ``=`` is left alone)."""
    return bool(_QP_HEADER.search(text) or (len(_QP_SOFT_BREAK.findall(text)) > 2 and "=3D" in text))


def _physical_lines(raws: list[str], quoted_printable: bool) -> list[tuple[int, str]]:
    """(file line number, text) per line; a quoted-printable line broken softly ("=" at
    its end) is joined and decoded, at the number of its first part."""
    if not quoted_printable:
        return list(enumerate(raws, start=1))
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    for number, raw in enumerate(raws, start=1):
        line = raw.rstrip("\r")
        parts.append(line[:-1] if line.endswith("=") else line)
        if not line.endswith("="):
            out.append((number - len(parts) + 1, _unquote(parts)))
            parts = []
    if parts:
        out.append((len(raws) - len(parts) + 1, _unquote(parts)))
    return out


def _unquote(parts: list[str]) -> str:
    return quopri.decodestring("".join(parts).encode()).decode("utf-8", "replace")


def read_kernel_lines(text: str) -> Reading:
    """Every kernel message of ``text`` in order, whatever form it was pasted in."""
    raws = text.split("\n")
    terminated = raws[-1] == ""
    if terminated:
        raws.pop()
    notes: list[str] = []
    quoted_printable = _quoted_printable(text)
    if quoted_printable:
        notes.append("quoted-printable")
    if any(r.endswith("\r") for r in raws[:1000]):
        notes.append("CRLF")
    entities = bool(_ENTITY.search(text))
    if entities:
        notes.append("HTML entities")
    undone: Counter[str] = Counter()
    rows: list[tuple[int, str]] = []
    markers: list[int] = []
    for number, raw in _physical_lines(raws, quoted_printable):
        line, how = _undecorate(raw, entities)
        undone.update(how)
        if BOOT_MARKER.match(line):
            markers.append(number)
        else:
            rows.append((number, line))
    # The form of a sample is tried first on every line (a syslog's prefix is far down the
    # list); a form that takes any program's lines once it is known takes them so.
    sample = Counter(p.form for n, line in rows[:_SAMPLE] if (p := _piece(n, line)) is not None and p.form)
    likely = _BY_NAME[sample.most_common(1)[0][0]] if sample else None
    first = None if likely is None else (likely.loose or likely.pattern, likely)
    pieces = [p for number, line in rows if (p := _piece(number, line, first)) is not None]
    found = Counter(p.form for p in pieces if p.form is not None)
    form = found.most_common(1)[0][0] if found else NO_STAMPS
    notes += [note for note in ("e-mail quoting", "ANSI colours") if undone[note]]
    if undone[_X] and form.startswith("dmesg"):
        form += " -x"
    lines, joined, skipped = _assemble(pieces)
    if joined:
        notes.append(f"{joined} syslog continuation line{'s' * (joined > 1)} joined")
    if skipped:
        notes.append(f"{skipped} line{'s' * (skipped > 1)} of other programs skipped")
    if form in _BY_NAME and _BY_NAME[form].host and any(p.in_message for p in pieces):
        form = "syslog"
    return Reading(form, tuple(notes), tuple(lines), tuple(markers), len(raws), terminated)


def _undecorate(raw: str, entities: bool) -> tuple[str, list[str]]:
    """Strip what sits around a line: CR, colour codes, mail quoting, entities, dmesg -x."""
    how: list[str] = []
    line = raw.replace("\r", "")
    if "\x1b" in line:
        line, count = _ANSI.subn("", line)
        how += ["ANSI colours"] * bool(count)
    if entities:
        line = html.unescape(line)
    quote = _QUOTE.match(line)
    if quote:
        line = line[quote.end():]
        how.append("e-mail quoting")
    facility = _FACILITY.match(line)
    if facility:
        line = line[facility.end():]
        how.append(_X)
    return line, how


@dataclass
class _Piece:
    number: int
    form: str | None  # None: no form's prefix (a message without stamp, or other text)
    text: str
    sec: float | None = None
    delta: float | None = None
    wall: str | None = None
    kernel: bool = True  # False: another program's line in a syslog
    in_message: bool = False  # the kernel's own stamp after a syslog prefix


def _piece(number: int, line: str, first: tuple[re.Pattern[str], _Form] | None = None) -> _Piece | None:
    for pattern, form in ([first] if first else []) + [(f.pattern, f) for f in _FORMS]:
        m = pattern.match(line)
        if m is None:
            continue
        groups = m.groupdict()
        sec = _float(groups.get("sec"))
        if groups.get("usec") is not None:
            sec = int(groups["usec"]) / 1e6
        piece = _Piece(number, form.name, line[m.end():], wall=groups.get("wall"), sec=sec,
                       delta=_float(groups.get("delta")))
        if form.host:
            piece.kernel = groups["ident"] == "kernel"
            inner = _IN_MESSAGE.match(piece.text)
            if inner and piece.kernel:
                piece.sec, piece.text, piece.in_message = float(inner["sec"]), piece.text[inner.end():], True
        return piece
    return _Piece(number, None, line) if line.strip() else None


def _float(value: str | None) -> float | None:
    return None if value is None else float(value)


def _assemble(pieces: list[_Piece]) -> tuple[list[KernelLine], int, int]:
    """Pieces → kernel lines: other programs' lines dropped, split lines joined,
    ``dmesg -H`` deltas summed into seconds since boot."""
    lines: list[KernelLine] = []
    joined = skipped = 0
    stamped_syslog = sum(p.in_message for p in pieces) * 2 > sum(p.kernel and p.form is not None
                                                                  and _BY_NAME[p.form].host for p in pieces)
    since_boot = 0.0
    for piece in pieces:
        if not piece.kernel:
            skipped += 1
            continue
        host = piece.form is not None and _BY_NAME[piece.form].host
        if host and stamped_syslog and not piece.in_message and lines:
            # syslog wrote the rest of the previous kernel record on a line of its own.
            last = lines[-1]
            lines[-1] = KernelLine(last.number, last.text + piece.text, last.stamp, last.wall, last.form)
            joined += 1
            continue
        stamp = piece.sec
        if piece.form == "dmesg -H":
            if piece.text.startswith("Linux version "):
                since_boot = 0.0  # a new boot: its clock starts again
            elif piece.delta is not None:
                since_boot += piece.delta
            # A "[Dec 6 11:37]" header stands where that record's delta would be: the sum
            # carries on without it (one record's gap, once a minute at most).
            stamp = round(since_boot, 6)
        lines.append(KernelLine(piece.number, piece.text, stamp, piece.wall, piece.form or NO_STAMPS))
    return lines, joined, skipped
