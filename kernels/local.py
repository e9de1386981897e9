"""Local kernels: a bzImage on disk, its vmlinux extracted into the cache if not given."""
from __future__ import annotations

from debarchive.verify import sha256_of
from kernels import cache
from kernels.bzimage import write_vmlinux
from kernels.kernel import Kernel, make_kernel
from kernels.spec import LocalSpec


def resolve_local(spec: LocalSpec) -> Kernel:
    """The ``Kernel`` for a local bzImage; a missing vmlinux is extracted once, keyed by hash."""
    vmlinux = spec.vmlinux
    if vmlinux is None:
        entry = cache.cache_root() / "local" / sha256_of(spec.bzimage)[:16]
        with cache.entry_lock(entry):
            if not (entry / "vmlinux").is_file():
                entry.mkdir(parents=True, exist_ok=True)
                write_vmlinux(spec.bzimage, entry / "vmlinux")
        vmlinux = entry / "vmlinux"
    return make_kernel(spec.text, spec.bzimage, system_map=spec.system_map, config=spec.config,
                       vmlinux=vmlinux, package_version=None, source="local",
                       modules=spec.modules)
