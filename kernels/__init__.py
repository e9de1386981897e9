"""Obtaining and inspecting kernels: Debian packages and local builds.

``resolve(spec)`` turns a SPEC (see ``kernels.spec``) into a ``Kernel``, fetching a
Debian package into the cache if needed; ``list_kernels()`` lists what is cached.
"""
from __future__ import annotations

from kernels.debian import cached_packages, kernel_from_entry, resolve_debian
from kernels.kernel import Kernel
from kernels.local import resolve_local
from kernels.spec import DEBIAN_SERIES, DEFAULT_SPEC, DebianSpec, parse_spec

KNOWN_SPECS = tuple(f"debian:{series}" for series in DEBIAN_SERIES)

__all__ = ["DEFAULT_SPEC", "KNOWN_SPECS", "Kernel", "fetch", "list_kernels", "resolve"]


def resolve(spec: str = DEFAULT_SPEC) -> Kernel:
    """The kernel ``spec`` names, fetching a Debian package if it is not cached."""
    parsed = parse_spec(spec)
    if isinstance(parsed, DebianSpec):
        return resolve_debian(parsed)
    return resolve_local(parsed)


def fetch(spec: str = DEFAULT_SPEC) -> Kernel:
    """Make sure ``spec`` is in the cache (a no-op for local kernels) and return it."""
    return resolve(spec)


def list_kernels() -> list[Kernel]:
    """Every cached Debian kernel, newest first per series, each with its pinned spec.

    ``KNOWN_SPECS`` lists the series that ``resolve`` can fetch but may not have yet.
    """
    return [kernel_from_entry(pkg.entry, f"debian:{pkg.release}") for pkg in cached_packages()]
