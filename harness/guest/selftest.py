"""The kernel's memory-hotplug selftest in the guest, from Debian's ``linux-source-*``.

``mem-on-off-test.sh`` is a bash script (``$UID``, ``$FUNCNAME``, ``&>``), so the guest gets
the host's bash with the shared libraries it links (busybox ash would misjudge ``$UID``).
It trusts sysfs ``removable``, which reads 1 for every block since 5.7
(drivers/base/memory.c:removable_show returns IS_ENABLED(CONFIG_MEMORY_HOTREMOVE)): its
"hot-pluggable memory" is all memory, its "no hot-pluggable memory" skip cannot trigger,
and its offline target is met by the first blocks that go, boot memory of node 0
included. A pass says the offline/online paths work, not that hotpluggable ranges are
removable; memhp's own checks (zones, real offline of the node's blocks) say that.
"""
from __future__ import annotations

import re
from dataclasses import replace
import subprocess
from pathlib import Path

from harness.errors import InfrastructureError
from harness.guest.command import CommandRecord, CommandResult
from harness.guest.initramfs_files import FileEntry
from harness.guest.selftest_tap import KSFT_SKIP, selftest_tap, tap_text
from harness.guest.user_command import keep_output
from harness.guest.vm import GuestVM
from harness.scenario.schema import Selftest
from kernels.source import source_tree

SCRIPT = "tools/testing/selftests/memory-hotplug/mem-on-off-test.sh"
GUEST_DIR = "/opt/memhp-selftest"
GUEST_BASH = f"{GUEST_DIR}/bash"
BASH = Path("/bin/bash")
_LDD_PATH = re.compile(r"(/\S+\.so[.\d]*)")


def _bash_with_libraries() -> list[FileEntry]:
    """The host's bash and what ``ldd`` says it loads, at the same paths in the guest
    (the ELF interpreter path is absolute)."""
    try:
        ldd = subprocess.run(["ldd", str(BASH)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise InfrastructureError(f"ldd {BASH} failed: {err}") from err
    libs = sorted({Path(m) for m in _LDD_PATH.findall(ldd)})
    return [FileEntry(GUEST_BASH, 0o755, BASH.read_bytes()),
            *(FileEntry(str(lib), 0o755, lib.resolve().read_bytes()) for lib in libs)]


def selftest_files(version: str) -> tuple[FileEntry, ...]:
    """The script from ``linux-source-<version>`` and bash, for the initramfs."""
    script = source_tree(version) / SCRIPT
    if not script.is_file():
        raise InfrastructureError(f"{script} missing from the kernel source tree")
    return (FileEntry(f"{GUEST_DIR}/mem-on-off-test.sh", 0o755, script.read_bytes()),
            *_bash_with_libraries())


def run_selftest(vm: GuestVM, action: Selftest) -> tuple[bool, str, CommandRecord]:
    """(succeeded, reason, record): success is the script's exit 0, as kselftest counts."""
    # bash runs it with stderr joined to stdout, so each error line follows its step
    argv = [GUEST_BASH, "-c", 'exec 2>&1; exec "$0" "$@"', GUEST_BASH,
            f"{GUEST_DIR}/mem-on-off-test.sh", "-r", str(action.ratio)]
    res: CommandResult = vm.run(argv, action.timeout)
    record = keep_output(vm, action.id, res)
    tests = selftest_tap(res.stdout.decode(errors="replace"), res.status, res.timed_out)
    tap = vm.out_dir / "commands" / f"{action.id}.tap"
    tap.write_text(tap_text(tests))
    record = replace(record, tap_file=str(tap.relative_to(vm.out_dir)), tap=tuple(tests))
    failed = [t.name for t in tests if t.failed]
    skipped = res.status == KSFT_SKIP
    succeeded = not res.timed_out and res.status == 0
    words = (f"{len(tests)} TAP results, {len(failed)} failed"
             + (f" ({', '.join(failed[:5])})" if failed else "") + ("; skipped" if skipped else ""))
    ran = ("killed after the timeout, output so far kept" if res.timed_out
           else f"exit status {res.status} after {res.seconds:.1f} s")
    return succeeded, f"mem-on-off-test.sh -r {action.ratio}: {ran}: {words}", record
