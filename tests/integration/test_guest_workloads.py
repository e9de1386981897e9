"""A test written with the pytest plugin, outside this repository, runs its own program in
the guest: one real boot (the plugin from its pytest11 entry point, as users load it)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "two-node-user-script.toml"

USER_TEST = f'''
from pathlib import Path
from harness.scenario.guest_files import GuestFile

def test_my_workload_in_the_guest(memhp_vm):
    probe = GuestFile(source=Path(__file__).with_name("probe.sh"), dest="/opt/mine/probe.sh", mode=0o755)
    prepared, vm = memhp_vm({str(SCENARIO)!r}, files=(probe,))
    res = vm.run(["/opt/mine/probe.sh", "two words", "$(reboot)"], timeout=30)
    assert (res.status, res.timed_out) == (3, False), res
    out = res.stdout.decode().splitlines()
    assert out[:2] == ["arg=two words", "arg=$(reboot)"], out
    assert out[2].startswith("release=6.1.0-") and res.stderr == b"probe done\\n"
    node1 = vm.run(["/opt/user/node-movable.sh", "1"], timeout=60)  # the scenario's own file
    assert node1.ok and b"every block Movable" in node1.stdout, node1
'''

PROBE = """#!/bin/sh
for a in "$@"; do echo "arg=$a"; done
echo "release=$(uname -r)"
echo "probe done" >&2
exit 3
"""


def test_plugin_user_runs_a_command_in_the_guest(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(USER_TEST)
    (tmp_path / "probe.sh").write_text(PROBE)
    env = dict(os.environ, MEMHP_KERNEL=os.environ.get("MEMHP_KERNEL", "debian:6.1"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_mine.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
