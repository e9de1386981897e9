"""Bad input through the real CLI (a subprocess): one clear line naming the file, exit 2,
never a traceback. Nothing here boots QEMU: every mistake is caught before."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRAT_AML = ROOT / "fixtures" / "acpi" / "qemu-7.2-pc-3node.srat.aml"
BOOT_LOG = ROOT / "fixtures" / "logs" / "qemu-6.1-three-node.log"

BASE = """
name = "t"
[machine]
slots = {slots}
maxmem = "{maxmem}"
nodes = [{{ memory = "{node0}", cpus = [0] }}, {{ memory = "1G" }}]
{extra}
"""
DIMM = """
[[dimms]]
id = "{id}"
size = "{size}"
node = 1
"""


def _memhp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False, cwd=ROOT)


def _one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memhp: "), proc.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def _scenario(tmp_path: Path, slots: int = 2, maxmem: str = "4G", node0: str = "1G",
              extra: str = "") -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(BASE.format(slots=slots, maxmem=maxmem, node0=node0, extra=extra))
    return path


def _build(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return _memhp("srat", "build", str(path), "-o", str(tmp_path / "srat.aml"))


def _ranges(*ranges: tuple[str, str, int, bool]) -> str:
    rows = ", ".join(f'{{ start = "{s}", size = "{z}", node = {n}, hotplug = {str(h).lower()} }}'
                     for s, z, n, h in ranges)
    return f"[srat]\nranges = [{rows}]\n"


def test_a_good_scenario_builds(tmp_path: Path) -> None:
    proc = _build(_scenario(tmp_path), tmp_path)
    assert proc.returncode == 0 and (tmp_path / "srat.aml").stat().st_size > 36, proc.stderr


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"extra": "[machine\n"}, ["TOML syntax", "line"]),
    ({"extra": "colour = 'red'"}, ["colour: unknown key"]),
    ({"node0": "100M"}, ["machine.nodes[0].memory", "128 MiB"]),
    ({"extra": DIMM.format(id="d0", size="200M")}, ["dimms[0].size", "128 MiB"]),
    ({"slots": 1, "extra": DIMM.format(id="a", size="128M") + DIMM.format(id="b", size="128M")},
     ["2 dimms but machine.slots = 1"]),
    ({"maxmem": "1G"}, ["maxmem 0x40000000 is below the nodes' RAM"]),
    ({"maxmem": "2G", "extra": DIMM.format(id="d0", size="256M")}, ["above machine.maxmem"]),
    ({"extra": _ranges(("0", "1G", 0, False), ("0x20000000", "1G", 1, False))},
     ["srat: ranges[0] and ranges[1] overlap at 0x20000000"]),
    ({"extra": _ranges(("0", "1G", 0, False), ("0x40000000", "1G", 5, False))},
     ["srat.ranges[1]: node 5 does not exist"]),
])
def test_impossible_scenarios_are_one_line_bad_input(tmp_path: Path, kwargs: dict[str, object],
                                                     words: list[str]) -> None:
    line = _one_line_error(_build(_scenario(tmp_path, **kwargs), tmp_path), *words)  # type: ignore[arg-type]
    assert "bad.toml" in line


def test_hotplug_range_on_no_ram_is_bad_input(tmp_path: Path) -> None:
    # 2 GiB of RAM ends at 0x80000000 and there are no DIMMs; 0x200000000 is nothing.
    ranges = _ranges(("0", "2G", 0, False), ("0x200000000", "1G", 1, True))
    path = _scenario(tmp_path, maxmem="2G", extra=ranges)
    _one_line_error(_build(path, tmp_path), "srat.ranges[1]", "covers no RAM or device memory")


def test_memhp_run_reports_bad_input_with_exit_2_and_a_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _memhp("run", str(_scenario(tmp_path, node0="100M")), "--out", str(out))
    _one_line_error(proc, "machine.nodes[0].memory")
    assert '"verdict": "bad-input"' in (out / "result.json").read_text()


def test_memhp_run_of_a_machine_past_tcg_address_bits_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    """Refused before QEMU starts (which would say "phys-bits too low" and cost a 125)."""
    out = tmp_path / "out"
    path = _scenario(tmp_path, maxmem="4T")
    proc = _memhp("run", str(path), "--out", str(out), "--accel", "tcg", "--kernel", "debian:6.1")
    _one_line_error(proc, f"{path}: machine.maxmem: QEMU's TCG guest would use addresses up to 0x")
    assert not (out / "console.log").exists()


def _srat_variant(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:]


@pytest.mark.parametrize(("name", "make", "words"), [
    ("truncated-header.aml", lambda d: d[:30], ["offset 0x0", "shorter than the 36-byte"]),
    ("truncated-body.aml", lambda d: d[:60], ["offset"]),
    ("corrupted.aml", lambda d: _flip(d, 60), ["checksum"]),
    ("empty.aml", lambda d: b"", ["empty.aml"]),
    ("random.aml", lambda d: bytes(range(256)) * 4, ["random.aml"]),
])
def test_broken_srat_files_are_one_line_bad_input(tmp_path: Path, name: str, make, words: list[str]) -> None:
    path = _srat_variant(tmp_path, name, make(SRAT_AML.read_bytes()))
    _one_line_error(_memhp("srat", "show", str(path)), name, *words)


def test_missing_srat_file_is_one_line_bad_input(tmp_path: Path) -> None:
    _one_line_error(_memhp("srat", "show", str(tmp_path / "nope.aml")), "nope.aml")


def test_binary_boot_log_is_one_line_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "binary.log"
    path.write_bytes(bytes(range(256)) * 64)
    _one_line_error(_memhp("parse", str(path)), "binary.log", "not a text log")


def _parse(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    proc = _memhp("parse", str(path))
    assert "Traceback" not in proc.stderr and proc.returncode == 0, proc.stderr
    return proc.stdout


# The parser reports what a partial log shows rather than refusing it: these must say so.
def test_log_without_memblock_debug_says_so(tmp_path: Path) -> None:
    # What memblock=debug adds: the option, the memblock_* trace and the MEMBLOCK dumps.
    debug_only = re.compile(rb"memblock|MEMBLOCK|\] +(memory|reserved)[.\[]|memory size =")
    text = BOOT_LOG.read_bytes().replace(b"memblock=debug", b"quiet")
    lines = [ln for ln in text.split(b"\n") if not debug_only.search(ln)]
    assert "memblock=debug: no; 0 memblock operations" in _parse(tmp_path, "nomb.log", b"\n".join(lines))


@pytest.mark.parametrize("cut", [2000, 50_000])
def test_truncated_boot_log_parses_what_is_there(tmp_path: Path, cut: int) -> None:
    out = _parse(tmp_path, "cut.log", BOOT_LOG.read_bytes()[:cut])
    assert out.startswith(f"{tmp_path / 'cut.log'}: kernel ")


@pytest.mark.parametrize("data", [
    b"", b"[", BOOT_LOG.read_bytes().translate(bytes.maketrans(b"abcdefghijklm", b"nopqrstuvwxyz"))],
    ids=["empty", "one-byte", "garbled"])
def test_log_with_no_boot_lines_is_bad_input(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "nothing.log"
    path.write_bytes(data)
    proc = _memhp("parse", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and str(path) in proc.stderr


def test_text_log_with_a_binary_tail_still_parses(tmp_path: Path) -> None:
    data = BOOT_LOG.read_bytes() + bytes(range(256)) * 16
    assert "memblock=debug: yes" in _parse(tmp_path, "tail.log", data)
