"""Loadable modules a scenario needs, taken from the kernel's own package or build tree.

A *module tree* is a directory laid out as ``lib/modules/<release>/`` (or a build tree):
``modules.builtin`` lists what is built in, ``modules.order`` what is built as a module,
both as paths relative to the tree. Dependencies come from each module's own ``.modinfo``
``depends=`` (scripts/mod/modpost.c writes it), because Debian's packages ship no
``modules.dep`` (depmod writes it at install time). A module whose ``vermagic`` is not
the kernel's release would be refused by the guest (kernel/module/version.c), so it is
refused here, before a boot.
"""
from __future__ import annotations

import gzip
import io
import lzma
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from harness.errors import BadInputError, ParseError

# What memhp guests may need; a Debian kernel's cache keeps these and their dependencies:
# virtio-mem, and CXL memory (the bus, port and memdev drivers, and the DAX path that
# onlines it as system RAM: drivers/cxl/, drivers/dax/).
KEPT_MODULES = ("virtio_mem", "virtio_pci",
                "cxl_acpi", "cxl_pci", "cxl_mem", "device_dax", "kmem", "dax_cxl", "dax_hmem")
# kbuild's compressed module suffixes (scripts/Makefile.modinst); the plain .ko last.
SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko")
ORDER, BUILTIN = "modules.order", "modules.builtin"


def module_name(path: str) -> str:
    """``virtio_mem`` from ``kernel/drivers/virtio/virtio_mem.ko.xz`` (or ``.o``, ``-`` as ``_``)."""
    base = path.rsplit("/", 1)[-1]
    for suffix in (*SUFFIXES, ".o"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def decompress(data: bytes, where: str) -> bytes:
    """A module file's ELF bytes, whatever kbuild compressed it with."""
    try:
        if where.endswith(".xz"):
            return lzma.decompress(data)
        if where.endswith(".zst"):
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        if where.endswith(".gz"):
            return gzip.decompress(data)
    except (lzma.LZMAError, zstandard.ZstdError, OSError, EOFError) as err:
        raise ParseError(where, f"module does not decompress: {err}") from err
    return data


def read_modinfo(elf: bytes, where: str) -> dict[str, str]:
    """The ``.modinfo`` section's ``key=value`` strings (NUL-separated)."""
    try:
        section = ELFFile(io.BytesIO(elf)).get_section_by_name(".modinfo")
    except ELFError as err:
        raise ParseError(where, f"not an ELF module: {err}") from err
    if section is None:
        raise ParseError(where, "no .modinfo section: not a kernel module")
    info: dict[str, str] = {}
    for entry in section.data().split(b"\0"):
        key, sep, value = entry.decode("utf-8", "replace").partition("=")
        if sep:
            info.setdefault(key, value)
    return info


@dataclass(frozen=True)
class Module:
    """One ``.ko`` ready for the initramfs: ``image`` is the uncompressed ELF."""

    name: str
    source: Path
    depends: tuple[str, ...]
    vermagic: str
    image: bytes


def load_module(path: Path) -> Module:
    """Read and decompress one module file and its modinfo."""
    elf = decompress(path.read_bytes(), str(path))
    info = read_modinfo(elf, str(path))
    depends = tuple(d for d in info.get("depends", "").split(",") if d)
    return Module(info.get("name", module_name(path.name)), path, depends, info.get("vermagic", ""), elf)


@dataclass(frozen=True)
class ModuleTree:
    """A kernel's module directory; ``builtin``/``modular`` are module names."""

    root: Path
    builtin: frozenset[str]
    modular: dict[str, str]

    @classmethod
    def read(cls, root: Path) -> ModuleTree:
        if not (root / BUILTIN).is_file():
            raise BadInputError(f"{root}: no {BUILTIN}: not a kernel build or module tree")
        order = root / ORDER
        modular = {module_name(line): line.strip() for line in
                   (order.read_text().splitlines() if order.is_file() else []) if line.strip()}
        builtin = frozenset(module_name(line) for line in (root / BUILTIN).read_text().splitlines() if line)
        return cls(root, builtin, modular)

    def file_of(self, name: str) -> Path | None:
        """The module's file as installed or built (compressed or not), None if absent."""
        listed = self.modular[name]
        stem = listed[: -len(".o")] if listed.endswith(".o") else listed.removesuffix(".ko")
        return next((p for p in (self.root / (stem + s) for s in SUFFIXES) if p.is_file()), None)


def resolve_modules(tree: ModuleTree, names: Iterable[str], release: str, kernel: str) -> tuple[Module, ...]:
    """The modules ``names`` need, dependencies first; built-in ones need nothing.

    ``BadInputError`` names a module the kernel lacks, whose file is missing, or that
    was built for another release.
    """
    loaded: dict[str, Module] = {}

    def visit(name: str, chain: Sequence[str]) -> None:
        if name in tree.builtin or name in loaded or name in chain:
            return
        if name not in tree.modular:
            raise BadInputError(f"kernel {kernel} ({release}): module {name} is missing: neither built "
                                f"in nor a module ({BUILTIN} and {ORDER} in {tree.root})")
        path = tree.file_of(name)
        if path is None:
            raise BadInputError(f"kernel {kernel} ({release}): module {name} is listed in "
                                f"{tree.root / ORDER} but its file is missing (run make modules?)")
        module = load_module(path)
        if module.vermagic.split(" ", 1)[0] != release:
            raise BadInputError(f"{path}: module {name} was built for {module.vermagic.split(' ', 1)[0]!r}, "
                                f"not the kernel's release {release!r}")
        for dep in module.depends:
            visit(dep, (*chain, name))
        loaded[name] = module

    for wanted in names:
        visit(wanted, ())
    return tuple(loaded.values())
