"""Failure lines: panic (kernel/panic.c:panic), oops/BUG/WARNING, and the evidence of a
refused hot-remove (drivers/acpi/scan.c, drivers/base/memory.c, mm/memory_hotplug.c,
mm/debug.c)."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from harness.logparse.common import HEX, Append, First, JsonMixin, LineKind, Special, hex_int


@dataclass(frozen=True)
class Panic:
    """``Kernel panic - not syncing: …``; ``text`` is the line as printed, from ``Kernel``."""

    line: int
    message: str
    text: str


PANIC_RE = re.compile(r"Kernel panic - not syncing: ?(?P<msg>.*?)\s*$")


@dataclass(frozen=True)
class Oops(JsonMixin):
    """The first line of a BUG/Oops/WARNING report."""

    line: int
    kind: str
    text: str


OOPS_RE = re.compile(
    r"(?P<text>(?P<kind>BUG|Oops|WARNING|kernel BUG|general protection fault)"
    r"(?::|,| at) .*?)\s*$"
)


class OfflineFailureKind(enum.Enum):
    OFFLINE_FAILED = "offline_failed"
    PAGE_DUMPED = "page_dumped"
    MIGRATE_FAILED = "migrate_failed"
    ISOLATE_FAILED = "isolate_failed"
    EJECT_DISABLED = "eject_disabled"
    EJECT_INCOMPLETE = "eject_incomplete"
    REMOVE_ONLINED = "remove_onlined"
    OFFLINING_FAILED = "offlining_failed"


@dataclass(frozen=True)
class OfflineFailure(JsonMixin):
    """One piece of evidence that memory could not be offlined or ejected.

    ``block`` is the memory block number (``memoryN``) and ``pfn`` the page frame the
    line names, where it names one; ``detail`` the reason or device as printed.
    """

    line: int
    kind: OfflineFailureKind
    text: str
    block: int | None = None
    pfn: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PageHeader:
    """``page:… pfn:0x13c800``: the first line of dump_page; its pfn belongs to the
    ``page dumped because:`` line that ends the dump."""

    line: int
    pfn: int


@dataclass(frozen=True)
class PageFlags:
    """``flags: 0x17ffffc0001000(reserved|node=2|zone=3)``: what dump_page found on the page
    (mm/debug.c:__dump_page; 6.12 __dump_folio, ``anon``/``ksm`` before it)."""

    line: int
    flags: int
    names: str


OFFLINE_FAILED_RE = re.compile(r"memory memory(?P<block>\d+): Offline failed\.\s*$")
PAGE_HEADER_RE = re.compile(rf"^page:.*\bpfn:(?P<pfn>{HEX})")
PAGE_FLAGS_RE = re.compile(rf"^(?:(?:anon|ksm) )?flags: (?P<flags>{HEX})\((?P<names>[^)]*)\)")
PAGE_DUMPED_RE = re.compile(r"page dumped because: (?P<reason>.*?)\s*$")
MIGRATE_FAILED_RE = re.compile(r"migrating pfn (?P<pfn>[0-9a-fA-F]+) failed ret:(?P<ret>-?\d+)\s*$")
ISOLATE_FAILED_RE = re.compile(r"failed to isolate pfn (?P<pfn>[0-9a-fA-F]+)\s*$")
EJECT_DISABLED_RE = re.compile(r"(?P<dev>\S+ \S+): Eject disabled\s*$")
EJECT_INCOMPLETE_RE = re.compile(rf"(?P<dev>.*?): Eject incomplete - status (?P<sta>{HEX})\s*$")
REMOVE_ONLINED_RE = re.compile(
    rf"removing memory fails, because memory \[(?P<start>{HEX})-(?P<last>{HEX})\] is onlined\s*$"
)
# mm/memory_hotplug.c:offline_pages prints it with pr_debug: only with dynamic debug on.
OFFLINING_FAILED_RE = re.compile(
    rf"memory offlining \[mem (?P<start>{HEX})-(?P<last>{HEX})\] failed due to (?P<reason>.*?)\s*$"
)


K = OfflineFailureKind


def _text(m: re.Match[str]) -> str:
    return m.group(0).strip()


# What explains a refused offline or eject: the failures and the dump_page lines with them.
OFFLINE_EVIDENCE = (OfflineFailure, PageHeader, PageFlags)

FAILURE = Append("offline_failures")
OOPS = Append("oopses")


def _oops(m: re.Match[str], line: int) -> Oops:
    return Oops(line, m["kind"], m["text"])


# Read before every other kind (reader.KINDS): no other trigger in its message may hide a panic.
PANIC_KIND: LineKind[object] = LineKind(
    "panic", "Kernel panic - not syncing", PANIC_RE, lambda m, n: Panic(n, m["msg"], _text(m)),
    First("panic", "message"),
)

KINDS: tuple[LineKind[object], ...] = (
    LineKind("oops_bug", "BUG: ", OOPS_RE, _oops, OOPS),
    LineKind("kernel_bug", "kernel BUG at", OOPS_RE, _oops, OOPS),
    LineKind("oops", "Oops: ", OOPS_RE, _oops, OOPS),
    LineKind("warning", "WARNING: ", OOPS_RE, _oops, OOPS),
    LineKind("gpf", "general protection fault", OOPS_RE, _oops, OOPS),
    LineKind(
        "offline_failed", "Offline failed", OFFLINE_FAILED_RE,
        lambda m, n: OfflineFailure(n, K.OFFLINE_FAILED, _text(m), block=int(m["block"])), FAILURE,
    ),
    LineKind(
        "page_header", "pfn:0x", PAGE_HEADER_RE, lambda m, n: PageHeader(n, hex_int(m["pfn"])),
        Special.PAGE_HEADER,
    ),
    LineKind(
        "page_flags", "flags: 0x", PAGE_FLAGS_RE, lambda m, n: PageFlags(n, hex_int(m["flags"]), m["names"]),
        Special.NOT_KEPT,
    ),
    LineKind(
        "page_dumped", "page dumped because:", PAGE_DUMPED_RE,
        lambda m, n: OfflineFailure(n, K.PAGE_DUMPED, _text(m), detail=m["reason"]), Special.PAGE_DUMPED,
    ),
    LineKind(
        "migrate_failed", "migrating pfn ", MIGRATE_FAILED_RE,
        lambda m, n: OfflineFailure(n, K.MIGRATE_FAILED, _text(m), pfn=int(m["pfn"], 16), detail=f"ret:{m['ret']}"),
        FAILURE,
    ),
    LineKind(
        "isolate_failed", "failed to isolate pfn", ISOLATE_FAILED_RE,
        lambda m, n: OfflineFailure(n, K.ISOLATE_FAILED, _text(m), pfn=int(m["pfn"], 16)), FAILURE,
    ),
    LineKind(
        "eject_disabled", "Eject disabled", EJECT_DISABLED_RE,
        lambda m, n: OfflineFailure(n, K.EJECT_DISABLED, _text(m), detail=m["dev"]), FAILURE,
    ),
    LineKind(
        "eject_incomplete", "Eject incomplete", EJECT_INCOMPLETE_RE,
        lambda m, n: OfflineFailure(n, K.EJECT_INCOMPLETE, _text(m), detail=f"{m['dev']} status {m['sta']}"),
        FAILURE,
    ),
    LineKind(
        "remove_onlined", "removing memory fails", REMOVE_ONLINED_RE,
        lambda m, n: OfflineFailure(n, K.REMOVE_ONLINED, _text(m), pfn=hex_int(m["start"]) >> 12), FAILURE,
    ),
    LineKind(
        "offlining_failed", "memory offlining [mem", OFFLINING_FAILED_RE,
        lambda m, n: OfflineFailure(n, K.OFFLINING_FAILED, _text(m), pfn=hex_int(m["start"]) >> 12,
                                    detail=m["reason"]),
        FAILURE,
    ),
)
