"""Writers: a recorded plain log rewritten the way each tool prints it (test helper).

Each writer takes the plain log's lines (``[seconds] message`` or, for the guest's own
output, bare text) and prints them as ``dmesg -T``, ``journalctl -o short-iso-precise``,
a syslog file… would: the formats of util-linux dmesg.c print_timestamp and systemd
logs-show.c.  The guest's bare lines are another program's in the host-prefixed forms.
"""
from __future__ import annotations

import gzip
import html
import lzma
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import zstandard

BOOTED = datetime(2026, 12, 6, 11, 37, 56, 250000, tzinfo=timezone.utc)
HOST = "field-host"
_STAMP = re.compile(r"^\[\s*(\d+\.\d+)\] ?(.*)$", re.S)


def _split(line: str) -> tuple[float | None, str]:
    m = _STAMP.match(line)
    return (float(m[1]), m[2]) if m else (None, line)


def _lines(plain: str) -> list[str]:
    return plain.replace("\r", "").split("\n")


def _per_line(plain: str, kernel: Callable[[float, str], str], other: Callable[[str], str]) -> str:
    out = []
    for line in _lines(plain):
        stamp, text = _split(line)
        out.append(line if not line else kernel(stamp, text) if stamp is not None else other(line))
    return "\n".join(out)


def _wall(stamp: float) -> datetime:
    return BOOTED + timedelta(seconds=stamp)


def dmesg_t(plain: str) -> str:
    return _per_line(plain, lambda s, t: f"[{_wall(s).strftime('%a %b %e %H:%M:%S %Y')}] {t}", lambda t: t)


def dmesg_h(plain: str) -> str:
    out, last, minute = [], 0.0, None
    for line in _lines(plain):
        stamp, text = _split(line)
        if stamp is None:
            out.append(line)
            continue
        now = _wall(stamp)
        if now.strftime("%j%H%M") != minute:
            out.append(f"[{now.strftime('%b%e %H:%M')}] {text}")
        else:
            delta = stamp - last
            out.append(f"[  {delta:+8.6f}] {text}" if delta < 10 else f"[ {delta:+9.6f}] {text}")
        minute, last = now.strftime("%j%H%M"), stamp
    return "\n".join(out)


def dmesg_iso(plain: str) -> str:
    return _per_line(plain, lambda s, t: f"{_wall(s).strftime('%Y-%m-%dT%H:%M:%S,%f')}+00:00 {t}", lambda t: t)


def dmesg_x(plain: str) -> str:
    return _per_line(plain, lambda s, t: f"kern  :info  : [{s:12.6f}] {t}", lambda t: t)


def dmesg_d(plain: str) -> str:
    last = [0.0]

    def write(stamp: float, text: str) -> str:
        delta, last[0] = stamp - last[0], stamp
        return f"[{stamp:12.6f} <{delta:12.6f}>] {text}"

    return _per_line(plain, write, lambda t: t)


def no_stamps(plain: str) -> str:
    return _per_line(plain, lambda s, t: t, lambda t: t)


def _journal(clock: Callable[[datetime, float], str]) -> Callable[[str], str]:
    def write(plain: str) -> str:
        return _per_line(plain, lambda s, t: f"{clock(_wall(s), s)} {HOST} kernel: {t}",
                         lambda t: f"{clock(BOOTED, 0)} {HOST} memhp-init[1]: {t}")
    return write


short = _journal(lambda w, s: w.strftime("%b %d %H:%M:%S"))
short_precise = _journal(lambda w, s: w.strftime("%b %d %H:%M:%S.%f"))
short_iso = _journal(lambda w, s: w.strftime("%Y-%m-%dT%H:%M:%S%z"))
short_iso_precise = _journal(lambda w, s: w.isoformat(timespec="microseconds"))
short_full = _journal(lambda w, s: w.strftime("%a %Y-%m-%d %H:%M:%S UTC"))
short_monotonic = _journal(lambda w, s: f"[{s:12.6f}]")
short_unix = _journal(lambda w, s: f"{w.timestamp():.6f}")
short_delta = _journal(lambda w, s: f"[{s:12.6f} <{0:12.6f}>]")


def kmsg(plain: str) -> str:
    """``cat /dev/kmsg``: "6,seq,usec,-;message" (the guest's own lines as they are)."""
    seq = [0]

    def write(stamp: float, text: str) -> str:
        seq[0] += 1
        return f"6,{seq[0]},{round(stamp * 1e6)},-;{text}"

    return _per_line(plain, write, lambda t: t)


def syslog(plain: str) -> str:
    """rsyslog's file with the kernel's own stamp kept (imklog)."""
    return _per_line(plain, lambda s, t: f"{_wall(s).strftime('%b %e %H:%M:%S')} {HOST} kernel: [{s:12.6f}] {t}",
                     lambda t: f"{BOOTED.strftime('%b %e %H:%M:%S')} {HOST} memhp-init[1]: {t}")


def syslog_split(plain: str) -> str:
    """syslog with each long kernel record continued on a line of its own, as klogd wrote
    a record's KERN_CONT pieces: the rest starts at a space and carries no kernel stamp."""
    out = []
    for line in syslog(plain).split("\n"):
        head, sep, text = line.partition(" kernel: [")
        cut = text.find(" ", 40)
        if not sep or cut < 0:
            out.append(line)
            continue
        prefix = head + " kernel: "
        out += [prefix + "[" + text[:cut], prefix + text[cut:]]
    return "\n".join(out)


def crlf(plain: str) -> str:
    return "\r\n".join(_lines(plain))


def quoted(plain: str) -> str:
    return "\n".join("> " + line for line in _lines(plain))


def entities(plain: str) -> str:
    return "\n".join(html.escape(line) for line in _lines(plain))


def coloured(plain: str) -> str:
    return _per_line(plain, lambda s, t: f"\x1b[32m[{s:12.6f}]\x1b[0m {t}", lambda t: t)


FORMS: dict[str, Callable[[str], str]] = {
    "dmesg -T": dmesg_t, "dmesg -H": dmesg_h, "dmesg --time-format=iso": dmesg_iso, "dmesg -x": dmesg_x, "dmesg -d": dmesg_d,
    "no timestamps": no_stamps, "journalctl -o short": short, "journalctl -o short-precise": short_precise,
    "journalctl -o short-iso": short_iso, "journalctl -o short-iso-precise": short_iso_precise,
    "journalctl -o short-full": short_full, "journalctl -o short-monotonic": short_monotonic,
    "journalctl -o short-unix": short_unix, "journalctl -o short-delta": short_delta, "/dev/kmsg": kmsg, "syslog": syslog, "syslog split": syslog_split, "CRLF": crlf,
    "e-mail quoting": quoted, "HTML entities": entities, "ANSI colours": coloured,
}

# How the reader names each form (``read as: …``).
READ_AS = {**{name: name for name in FORMS}, "no timestamps": "no timestamps (dmesg -t or journalctl -o cat)",
           "syslog split": "syslog", "CRLF": "dmesg", "e-mail quoting": "dmesg",
           "HTML entities": "dmesg", "ANSI colours": "dmesg"}

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "xz": lzma.compress, "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}
