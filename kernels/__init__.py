"""Obtaining and inspecting kernels: Debian packages and local builds.

``resolve(spec)`` turns a SPEC (see ``kernels.spec``) into a ``Kernel``, fetching a
Debian package into the cache if needed; ``list_kernels()`` lists what is cached,
``available()`` what Debian's archive offers.
"""
from __future__ import annotations

from collections.abc import Sequence

from harness.errors import BadInputError
from kernels import debian
from kernels.cache import is_complete
from kernels.debian import cached_kernels, catalog, fetch_modules, kernel_entry, kernel_from_entry, resolve_debian
from kernels.debian_catalog import Catalog
from kernels.kernel import Kernel
from kernels.local import resolve_local
from kernels.modules import Module, ModuleTree, resolve_modules
from kernels.pvh import boot_image
from kernels.spec import DEFAULT_SPEC, DebianSpec, Pick, parse_spec

__all__ = ["DEFAULT_SPEC", "Kernel", "Module", "available", "boot_image", "format_available", "fetch",
           "list_kernels", "module_tree", "needed_modules", "resolve", "unread_suites"]


def resolve(spec: str = DEFAULT_SPEC) -> Kernel:
    """The kernel ``spec`` names, fetching a Debian package if it is not cached."""
    parsed = parse_spec(spec)
    if isinstance(parsed, DebianSpec):
        return resolve_debian(parsed)
    return resolve_local(parsed)


def fetch(spec: str = DEFAULT_SPEC) -> Kernel:
    """Make sure ``spec`` is in the cache (a no-op for local kernels) and return it; a
    Debian kernel's kept modules too, so the first virtio-mem run downloads nothing."""
    kernel = resolve(spec)
    if kernel.source == "debian" and kernel.package_version is not None:
        module_tree(kernel)
    return kernel


def list_kernels() -> list[Kernel]:
    """Every cached Debian kernel, newest first, each with its pinned spec.

    ``available()`` lists what ``resolve`` can fetch but may not have yet.
    """
    return [kernel_from_entry(k.entry, f"debian:{k.release}") for k in cached_kernels()]


def available() -> Catalog:
    """Every kernel build Debian's archive offers (verified indexes, cached for hours)."""
    return catalog()


def unread_suites() -> dict[str, str]:
    """The suites the last ``available()`` could not read, and why (empty when all were)."""
    return dict(debian.default_archive().skipped)


def format_available(found: Catalog) -> str:
    """``kernels list --available``: the newest build of each series, and what the
    catalog's aliases name today."""
    lines = [f"{'name':<13} {'newest release':<24} {'package version':<20} {'suite':<19} cached"]
    for series in found.series():
        build = found.newest(series)
        assert build is not None
        mark = "yes" if is_complete(kernel_entry(build)) else "no"
        lines.append(f"{'debian:' + series:<13} {build.release:<24} {build.version:<20} {build.suite:<19} {mark}")
    aliases = [f"debian:{pick.value} = debian:{found.resolve_alias(pick)}" for pick in (Pick.LTS, Pick.LATEST)
               if found.resolve_alias(pick)]
    unread = [f"{suite}: {why}" for suite, why in unread_suites().items()]
    return "\n".join([*lines, "; ".join(aliases), *(f"not read: {line}" for line in unread)])


def module_tree(kernel: Kernel) -> ModuleTree:
    """Where ``kernel``'s modules are: its Debian package (fetched once) or its local tree."""
    if kernel.source == "debian" and kernel.package_version is not None:
        return fetch_modules(kernel)
    if kernel.modules is None:
        raise BadInputError(f"kernel {kernel.spec}: no module tree to find modules in: give a build "
                            "tree's bzImage or ,modules=DIR (a directory with modules.builtin)")
    return ModuleTree.read(kernel.modules)


def needed_modules(kernel: Kernel, names: Sequence[str]) -> tuple[Module, ...]:
    """The modules (dependencies first) that load ``names`` on ``kernel``; () if all are built in.

    A module the kernel lacks is bad input (exit 2), naming the module.
    """
    if not names:
        return ()
    return resolve_modules(module_tree(kernel), names, kernel.release, kernel.spec)
