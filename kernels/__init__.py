"""Obtaining and inspecting kernels: Debian packages and local builds.

``resolve(spec)`` turns a SPEC (see ``kernels.spec``) into a ``Kernel``, fetching a
Debian package into the cache if needed; ``list_kernels()`` lists what is cached.
"""
from __future__ import annotations

from collections.abc import Sequence

from harness.errors import BadInputError
from kernels.debian import DebianPackage, cached_packages, kernel_from_entry, resolve_debian
from kernels.debian_modules import fetch_module_tree
from kernels.kernel import Kernel
from kernels.local import resolve_local
from kernels.modules import Module, ModuleTree, resolve_modules
from kernels.pvh import boot_image
from kernels.spec import DEBIAN_SERIES, DEFAULT_SPEC, DebianSpec, parse_spec

KNOWN_SPECS = tuple(f"debian:{series}" for series in DEBIAN_SERIES)

__all__ = ["DEFAULT_SPEC", "KNOWN_SPECS", "Kernel", "Module", "boot_image", "fetch", "list_kernels", "module_tree",
           "needed_modules", "resolve"]


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
    """Every cached Debian kernel, newest first per series, each with its pinned spec.

    ``KNOWN_SPECS`` lists the series that ``resolve`` can fetch but may not have yet.
    """
    return [kernel_from_entry(pkg.entry, f"debian:{pkg.release}") for pkg in cached_packages()]


def module_tree(kernel: Kernel) -> ModuleTree:
    """Where ``kernel``'s modules are: its Debian package (fetched once) or its local tree."""
    if kernel.source == "debian" and kernel.package_version is not None:
        package = DebianPackage(f"linux-image-{kernel.release}-unsigned", kernel.package_version)
        return fetch_module_tree(package)
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
