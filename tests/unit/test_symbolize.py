"""A log whose callers are raw addresses (no KALLSYMS) gets its names back from System.map."""
from __future__ import annotations

import re
from pathlib import Path

from harness.cli import main
from harness.logparse import load_boot_log, parse_boot_log
from harness.logparse.symbolize import load_table, symbolize_text

LOG = Path(__file__).parents[2] / "fixtures/logs/qemu-6.1-three-node.log"
CALLER = re.compile(r"(?<= )([A-Za-z_][\w.]*)\+(0x[0-9a-f]+)/(0x[0-9a-f]+)(?=\r?$)", re.MULTILINE)


def _system_map_and_raw_log(tmp_path: Path) -> tuple[Path, Path]:
    """Give each caller function of the real log an address, write the System.map that
    says so, and rewrite the log as a kernel without kallsyms would print it."""
    text = LOG.read_text()
    sizes = {m[0]: int(m[2], 16) for m in CALLER.findall(text)}
    base, addresses = 0xFFFFFFFF81001000, {}
    for name, size in sorted(sizes.items()):
        addresses[name] = base
        base += size
    lines = ["ffffffff81000000 T _text"] + [f"{a:016x} T {n}" for n, a in sorted(addresses.items(), key=lambda kv: kv[1])]
    lines.append(f"{base:016x} T _etext")
    system_map = tmp_path / "System.map"
    system_map.write_text("\n".join(lines) + "\n")
    raw = CALLER.sub(lambda m: f"{addresses[m[1]] + int(m[2], 16):016x}", "\n".join(text.splitlines()))
    raw_log = tmp_path / "raw.log"
    raw_log.write_text(raw + "\n")
    return system_map, raw_log


def test_raw_callers_get_their_names_back(tmp_path: Path) -> None:
    system_map, raw_log = _system_map_and_raw_log(tmp_path)
    raw = load_boot_log(raw_log)
    assert all(re.fullmatch(r"[0-9a-f]{16}", op.caller) for op in raw.memblock_ops), "callers are raw"
    named = parse_boot_log(symbolize_text(raw_log.read_text(), load_table(system_map)), "named")
    original = load_boot_log(LOG)
    assert [op.caller_function for op in named.memblock_ops] == [op.caller_function for op in original.memblock_ops]
    assert [op.caller for op in named.memblock_ops] == [op.caller for op in original.memblock_ops]


def test_parse_cli_takes_symbols(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    system_map, raw_log = _system_map_and_raw_log(tmp_path)
    assert main(["parse", str(raw_log), "--json", "--symbols", str(system_map)]) == 0
    assert "e820__memblock_setup+0x" in capsys.readouterr().out
