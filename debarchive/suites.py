"""The Debian suites memhp reads, in order of preference, and where each lives.

A suite is served either by the main archive or by the security archive (two URIs in
a host's apt configuration). The order breaks ties between two builds of one upstream
release: the earlier suite wins, so a series keeps its build when a newer suite later
ships the same release (bookworm-security's 6.12.118+deb12 before trixie-security's
6.12.118+deb13).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Origin(enum.Enum):
    """Which of Debian's two archives serves a suite."""

    MAIN = "main archive"
    SECURITY = "security archive"


@dataclass(frozen=True)
class Suite:
    name: str
    origin: Origin


SUITES: tuple[Suite, ...] = (
    Suite("bookworm", Origin.MAIN),
    Suite("bookworm-security", Origin.SECURITY),
    Suite("bookworm-backports", Origin.MAIN),
    Suite("trixie", Origin.MAIN),
    Suite("trixie-security", Origin.SECURITY),
    Suite("trixie-backports", Origin.MAIN),
    Suite("sid", Origin.MAIN),
)

# Only amd64 binaries of the main component are read: memhp boots x86-64 guests and
# every package it takes (kernels, their sources, QEMU) is in main.
ARCH = "amd64"
COMPONENT = "main"


def suite_rank(name: str) -> int:
    """Position of ``name`` in ``SUITES`` (lower is preferred)."""
    return next(i for i, suite in enumerate(SUITES) if suite.name == name)
