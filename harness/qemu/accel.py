"""Choosing the accelerator: KVM only where a probe shows a guest really boots, else TCG.

On some hosts /dev/kvm exists yet guests hang before the first kernel line, so presence
is not enough. The probe boots the kernel under KVM for a few seconds, looks for
``Linux version`` on the console and caches the answer per host kernel and QEMU binary.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError
from harness.paths import cache_dir
from harness.qemu.binary import QemuBinary, system_qemu
from harness.qemu.facts import AMD_HT_START
from harness.scenario.layout import MemoryLayout


@dataclass(frozen=True)
class Accel:
    name: str  # "tcg" or "kvm"
    cpu: str   # "-cpu host" aborts here (MSR 0x10a), so KVM uses "max" too unless probed


TCG = Accel("tcg", "max")
KVM = Accel("kvm", "max")



def check_address_space(layout: MemoryLayout, accel: Accel) -> None:
    """Refuse what QEMU would refuse under TCG, as bad input; under KVM the host CPU's
    address bits decide, which only QEMU knows."""
    if accel.name == TCG.name and layout.address_space_end > AMD_HT_START:
        raise BadInputError(
            f"machine.maxmem: QEMU's TCG guest would use addresses up to {layout.address_space_end - 1:#x} "
            f"(device memory and the 64-bit PCI hole), reaching {AMD_HT_START:#x}, where QEMU moves "
            "RAM past its CPU's 40 address bits: lower maxmem or slots")
PROBE_SECONDS = 15.0


def _probe_key(qemu: QemuBinary) -> str:
    binary = shutil.which(str(qemu.path)) or str(qemu.path)
    stamp = os.stat(binary).st_mtime_ns if os.path.exists(binary) else 0
    return f"{platform.release()}-{binary}-{stamp}"


def probe_kvm(kernel: Path, qemu: QemuBinary) -> bool:
    """Boot ``kernel`` under KVM briefly; True only if it printed its first line."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    with tempfile.TemporaryDirectory(prefix="memhp-kvm-probe-") as tmp:
        serial = Path(tmp) / "serial.log"
        argv = [*qemu.argv(), "-M", "pc", "-accel", "kvm", "-cpu", KVM.cpu, "-m", "256M",
                "-nodefaults", "-display", "none", "-no-reboot", "-kernel", str(kernel),
                "-append", "console=ttyS0 panic=-1", "-serial", f"file:{serial}"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, env=qemu.env())
        try:
            deadline = time.monotonic() + PROBE_SECONDS
            while time.monotonic() < deadline and proc.poll() is None:
                if serial.exists() and b"Linux version" in serial.read_bytes():
                    return True
                time.sleep(0.25)
            return False
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def choose_accel(name: str, kernel: Path, qemu: QemuBinary | None = None) -> Accel:
    """``tcg``, ``kvm`` (as asked) or ``auto`` (probe once per host kernel and QEMU, cached)."""
    if name == "tcg":
        return TCG
    if name == "kvm":
        return KVM
    if name != "auto":
        raise BadInputError(f"--accel: expected auto, tcg or kvm, not {name!r}")
    cache = cache_dir("probes") / "kvm.json"
    qemu = qemu or system_qemu()
    key = _probe_key(qemu)
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in known:
        known[key] = probe_kvm(kernel, qemu)
        cache.write_text(json.dumps(known))
    return KVM if known[key] else TCG
