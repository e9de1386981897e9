"""``--qemu PATH|SPEC`` → the QEMU to run: ``system``, ``debian:…`` (the archive), or a path."""
from __future__ import annotations

from harness.qemu.binary import SYSTEM, QemuBinary, from_path, system_qemu


def resolve_qemu(spec: str = SYSTEM) -> QemuBinary:
    if spec == SYSTEM:
        return system_qemu()
    if spec.startswith("debian:"):
        from harness.qemu.archive import archive_qemu  # only then: it may ask the archive
        return archive_qemu(spec)
    return from_path(spec)
