"""Modules a scenario needs: found in a module tree, dependencies first, built-in ones
skipped, compressed ones decompressed; a missing or foreign module refused by name."""
from __future__ import annotations

import lzma
from pathlib import Path

import pytest
from module_fakes import fake_module

import kernels
from harness.errors import BadInputError, ExitCode, ParseError, exit_code_for
from kernels.kernel import Kernel
from kernels.modules import ModuleTree, load_module, module_name, read_modinfo, resolve_modules
from kernels.spec import LocalSpec, parse_spec

RELEASE = "6.1.0-99-amd64"


def make_tree(root: Path, builtin: list[str], modules: dict[str, tuple[str, str]]) -> Path:
    """``modules``: path under root (as modules.order lists it) -> (name, depends)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "modules.builtin").write_text("".join(f"{p}\n" for p in builtin))
    (root / "modules.order").write_text("".join(f"{p.removesuffix('.xz')}\n" for p in modules))
    for path, (name, depends) in modules.items():
        image = fake_module(name, depends, f"{RELEASE} SMP preempt mod_unload modversions")
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(lzma.compress(image) if path.endswith(".xz") else image)
    return root


# Debian 6.1's layout: virtio_pci and virtio_mem are modules with dependencies.
DEBIAN_61 = {
    "kernel/drivers/virtio/virtio_ring.ko": ("virtio_ring", ""),
    "kernel/drivers/virtio/virtio.ko": ("virtio", "virtio_ring"),
    "kernel/drivers/virtio/virtio_mem.ko": ("virtio_mem", "virtio,virtio_ring"),
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko": ("virtio_pci_modern_dev", ""),
    "kernel/drivers/virtio/virtio_pci.ko": ("virtio_pci", "virtio_ring,virtio_pci_modern_dev,virtio"),
}


@pytest.mark.parametrize(("path", "name"), [
    ("kernel/drivers/virtio/virtio_mem.ko.xz", "virtio_mem"),
    ("drivers/virtio/virtio_mem.o", "virtio_mem"),
    ("kernel/drivers/char/hw_random/virtio-rng.ko", "virtio_rng"),
])
def test_module_names_as_the_kernel_spells_them(path: str, name: str) -> None:
    assert module_name(path) == name


def test_dependencies_come_first_and_each_once(tmp_path: Path) -> None:
    tree = ModuleTree.read(make_tree(tmp_path, [], DEBIAN_61))
    loaded = resolve_modules(tree, ["virtio_pci", "virtio_mem"], RELEASE, "debian:6.1")
    names = [m.name for m in loaded]
    # depends= order, each dependency before its user (insmod fails on unknown symbols otherwise)
    assert names == ["virtio_ring", "virtio_pci_modern_dev", "virtio", "virtio_pci", "virtio_mem"]
    assert all(names.index(dep) < names.index(m.name) for m in loaded for dep in m.depends)
    assert loaded[-1].depends == ("virtio", "virtio_ring")
    assert read_modinfo(loaded[-1].image, "x")["name"] == "virtio_mem"


def test_builtin_modules_need_nothing_and_xz_is_decompressed(tmp_path: Path) -> None:
    # Debian 6.12: virtio_pci is built in, virtio_mem.ko.xz has no dependencies.
    root = make_tree(tmp_path, ["kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio.ko"],
                     {"kernel/drivers/virtio/virtio_mem.ko.xz": ("virtio_mem", "")})
    (module,) = resolve_modules(ModuleTree.read(root), ["virtio_pci", "virtio_mem"], RELEASE, "k")
    assert module.source.name == "virtio_mem.ko.xz"
    assert module.image.startswith(b"\x7fELF") and module.depends == ()


def test_a_missing_module_is_bad_input_naming_it(tmp_path: Path) -> None:
    tree = ModuleTree.read(make_tree(tmp_path, [], {"kernel/drivers/virtio/virtio_pci.ko": ("virtio_pci", "")}))
    with pytest.raises(BadInputError) as info:
        resolve_modules(tree, ["virtio_mem"], RELEASE, "debian:6.1")
    assert str(info.value).startswith(f"kernel debian:6.1 ({RELEASE}): module virtio_mem is missing")
    assert exit_code_for(info.value) is ExitCode.BAD_INPUT


def test_a_missing_dependency_is_named(tmp_path: Path) -> None:
    tree = ModuleTree.read(make_tree(tmp_path, [], {"kernel/drivers/virtio/virtio_mem.ko": ("virtio_mem", "virtio")}))
    with pytest.raises(BadInputError, match="module virtio is missing"):
        resolve_modules(tree, ["virtio_mem"], RELEASE, "k")


def test_a_listed_module_without_its_file_is_named(tmp_path: Path) -> None:
    root = make_tree(tmp_path, [], DEBIAN_61)
    (root / "kernel/drivers/virtio/virtio.ko").unlink()
    with pytest.raises(BadInputError, match="module virtio is listed in .* but its file is missing"):
        resolve_modules(ModuleTree.read(root), ["virtio_mem"], RELEASE, "k")


def test_a_module_of_another_release_is_refused(tmp_path: Path) -> None:
    tree = ModuleTree.read(make_tree(tmp_path, [], DEBIAN_61))
    with pytest.raises(BadInputError, match=f"built for '{RELEASE}', not the kernel's release '6.1.0-98-amd64'"):
        resolve_modules(tree, ["virtio_ring"], "6.1.0-98-amd64", "k")


def test_not_a_module_file_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.ko"
    path.write_bytes(b"not an elf")
    with pytest.raises(ParseError, match="bad.ko: not an ELF module"):
        load_module(path)
    xz = tmp_path / "bad.ko.xz"
    xz.write_bytes(b"not xz")
    with pytest.raises(ParseError, match="bad.ko.xz: module does not decompress"):
        load_module(xz)


def test_a_directory_without_modules_builtin_is_not_a_tree(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no modules.builtin: not a kernel build or module tree"):
        ModuleTree.read(tmp_path)


def _local(tmp_path: Path, modules: Path | None) -> Kernel:
    return Kernel("./bzImage", tmp_path / "bzImage", None, None, None, RELEASE, (6, 1), None, "local", modules)


def test_needed_modules_of_a_local_kernel_use_its_tree(tmp_path: Path) -> None:
    kernel = _local(tmp_path, make_tree(tmp_path / "tree", [], DEBIAN_61))
    assert [m.name for m in kernels.needed_modules(kernel, ["virtio_mem"])] == ["virtio_ring", "virtio", "virtio_mem"]
    assert kernels.needed_modules(_local(tmp_path, None), []) == ()
    with pytest.raises(BadInputError, match=r"no module tree to find modules in: .*,modules=DIR"):
        kernels.needed_modules(_local(tmp_path, None), ["virtio_mem"])


def test_spec_takes_a_module_tree_or_finds_the_build_tree(tmp_path: Path) -> None:
    image = tmp_path / "linux" / "arch" / "x86" / "boot" / "bzImage"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"x")
    plain = parse_spec(str(image))
    assert isinstance(plain, LocalSpec) and plain.modules is None  # no modules.builtin yet
    (tmp_path / "linux" / "modules.builtin").write_text("")
    built = parse_spec(str(image))
    assert isinstance(built, LocalSpec) and built.modules == tmp_path / "linux"
    installed = make_tree(tmp_path / "lib" / "modules" / RELEASE, [], {})
    given = parse_spec(f"{image},modules={installed}")
    assert isinstance(given, LocalSpec) and given.modules == installed
    with pytest.raises(BadInputError, match=f"modules {tmp_path} has no modules.builtin"):
        parse_spec(f"{image},modules={tmp_path}")
