"""Field logs as people paste them (issue 24): every form of a recorded boot reads to the
plain form's model and verdict; compressed files, standard input, several boots; bad input
is one line, exit 2; and a verdict from the zone lines when the command line is missing."""
from __future__ import annotations

import gzip
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.analysis.field_compare import compare_logs
from harness.analysis.log_verdict import Outcome, hotplug_verdict
from harness.analysis.pinning import HotplugStatus
from harness.cli import main
from harness.errors import ExitCode
from harness.logparse import load_boot_log, parse_boot_log
from harness.logparse import field_log
from harness.logparse.field_log import load_field_boot_log, read_field_log

sys.path.insert(0, str(Path(__file__).parent))
import field_forms  # noqa: E402  (the writers, a test helper next to this file)

ROOT = Path(__file__).parents[2]
LOGS = sorted((ROOT / "fixtures" / "logs").rglob("*.log"))
# The issue's table: a recorded 6.1 boot whose verdict names alloc_low_pages.
PINNED = ROOT / "fixtures" / "logs" / "qemu-6.1-srat-override-hotplug-n1n2.log"
MAIL = ROOT / "fixtures" / "field" / "linux-mm-8node-hotplug-softlock-dmesg-H.log"
_LINE_NO = re.compile(r"line \d+")


def _facts(path: Path, numbered: bool = True) -> dict[str, Any]:
    """Model and verdict as JSON, the source name dropped (and line numbers, if asked)."""
    _, log = load_field_boot_log(path)
    return _strip({"model": log.to_json(), "verdict": hotplug_verdict(log).to_json()}, numbered)


def _strip(value: Any, numbered: bool) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, numbered) for k, v in value.items()
                if k != "source" and (numbered or not (k.endswith("line") or k == "number"))}
    if isinstance(value, list):
        return [_strip(v, numbered) for v in value]
    if isinstance(value, str) and not numbered:
        return _LINE_NO.sub("line N", value)
    return value


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_bytes(data)
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=st.sampled_from(LOGS), form=st.sampled_from(sorted(field_forms.FORMS)),
       wrap=st.sampled_from(["", "CRLF", "e-mail quoting"]),
       compression=st.sampled_from(["", *sorted(field_forms.COMPRESSORS)]))
def test_every_form_of_a_recorded_log_gives_the_plain_model_and_verdict(
        tmp_path: Path, log: Path, form: str, wrap: str, compression: str) -> None:
    text = field_forms.FORMS[form](log.read_bytes().decode("utf-8", "replace"))
    if wrap:
        text = field_forms.FORMS[wrap](text)
    data = text.encode()
    if compression:
        data = field_forms.COMPRESSORS[compression](data)
    # A misleading name: the content says what it is.
    path = _write(tmp_path, f"{form.replace(' ', '_')}.txt", data)
    field = read_field_log(path)
    assert field.reading.form == field_forms.READ_AS[form]
    assert (compression in field.read_as) and (wrap in field.read_as or form == "syslog split")
    # A split syslog line keeps the number of its first part: only line numbers differ.
    numbered = form != "syslog split"
    assert _facts(path, numbered) == _strip(_facts(log), numbered)


@pytest.mark.parametrize("form", sorted(field_forms.FORMS))
def test_the_issue_table_every_form_shows_the_command_line_and_the_callers(
        tmp_path: Path, form: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "field.log", field_forms.FORMS[form](PINNED.read_text()).encode())
    assert main(["parse", str(path)]) == ExitCode.FAIL  # VIOLATED, as the plain form
    out = capsys.readouterr().out
    assert "command line: console=ttyS0 memblock=debug" in out
    assert "alloc_low_pages" in out
    assert f"read as: {field_forms.READ_AS[form]}" in out


def test_dmesg_h_deltas_are_summed_back_into_seconds_since_boot(tmp_path: Path) -> None:
    plain = PINNED.read_text()
    path = _write(tmp_path, "h.log", field_forms.dmesg_h(plain).encode())
    summed = {k.number: k.stamp for k in read_field_log(path).chosen.lines}
    stamps = {n: float(m[1]) for n, line in enumerate(plain.split("\n"), 1)
              if (m := re.match(r"\[\s*(\d+\.\d+)\]", line))}
    # dmesg -H prints a "[Dec 6 11:38]" header in place of one record's delta once a
    # minute: up to the first header after boot (at 3.75 s here) the sum is exact.
    early = [n for n, s in stamps.items() if s < 3.7]
    assert len(early) > 100
    assert all(abs((summed[n] or 0) - stamps[n]) < 2e-6 for n in early)


def test_gzip_xz_zstd_and_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    plain = _facts(PINNED)
    for name, compress in field_forms.COMPRESSORS.items():
        path = _write(tmp_path, f"log.{name}", compress(PINNED.read_bytes()))
        assert _facts(path) == plain, name
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(PINNED.read_bytes()))))
    assert main(["parse", "-"]) == ExitCode.FAIL
    assert "read as: dmesg (CRLF), gzip-compressed" in capsys.readouterr().out


def _two_boots(first: Path, second: Path) -> str:
    return field_forms.syslog(first.read_text()) + "\n" + field_forms.syslog(second.read_text())


def test_two_boots_in_one_syslog_are_two_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = ROOT / "fixtures" / "logs" / "qemu-6.1-three-node-movable-node.log"
    path = _write(tmp_path, "syslog", _two_boots(PINNED, clean).encode())
    field = read_field_log(path)
    assert [b.number for b in field.boots] == [1, 2] and field.chosen.number == 2
    assert field.boots[1].first_line == len(PINNED.read_text().split("\n")) + 1
    # The last boot by default, each judged as its own plain log.
    assert main(["parse", str(path)]) == ExitCode.PASS
    assert "2 boots in the file; judging boot 2" in capsys.readouterr().out
    assert main(["parse", "--boot", "1", str(path)]) == ExitCode.FAIL
    _, first = load_field_boot_log(path, 1)
    _, second = load_field_boot_log(path, 2)
    assert first.srat_memory == load_boot_log(PINNED).srat_memory
    assert [s.hotplug for s in second.srat_memory] == [s.hotplug for s in load_boot_log(clean).srat_memory]
    assert len(first.srat_memory) + len(second.srat_memory) > len(second.srat_memory)


def test_journalctl_boot_markers_split_boots(tmp_path: Path) -> None:
    one = field_forms.short_iso_precise(PINNED.read_text())
    path = _write(tmp_path, "journal", f"-- Boot 0a1b2c --\n{one}\n-- Boot 3d4e5f --\n{one}\n".encode())
    field = read_field_log(path)
    assert len(field.boots) == 2 and field.reading.boot_markers == (1, one.count("\n") + 3)


@pytest.mark.parametrize(("name", "data", "args", "message"), [
    ("binary.log", bytes(range(256)) * 64, [], "not a text log"),
    ("words.log", b"Hello,\nthe machine hangs on hot remove.\n", [], "no Linux boot log lines found"),
    ("empty.log", b"", [], "no kernel lines at all"),
    # 64 MiB of zeros in 64 KiB of gzip; the bound is lowered below for it.
    ("bomb.gz", gzip.compress(b"\0" * (64 << 20)), [], "a decompression bomb"),
    ("bomb.log", field_forms.COMPRESSORS["zstd"](b"\0" * (64 << 20)), [], "zstd data inflates to more than"),
    ("broken.xz", b"\xfd7zXZ\x00garbage", [], "corrupt xz data"),
    ("pinned.log", PINNED.read_bytes(), ["--boot", "2"], "--boot 2: the file has 1 boot (1-1)"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, name: str,
                                      data: bytes, args: list[str], message: str) -> None:
    monkeypatch.setattr(field_log, "MAX_LOG_BYTES", 32 << 20)
    path = _write(tmp_path, name, data)
    for command in (["parse", *args, str(path)], ["import", *args, "--dmesg", str(path), "-o",
                                                  str(tmp_path / "s.toml")]):
        assert main(command) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and str(path) in err, err


def test_import_and_field_compare_take_every_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    field = ROOT / "fixtures" / "field" / "linuxhw-dell-r820-4node-pxm1.log"
    replica = ROOT / "fixtures" / "field" / "replica" / "r820-full-size.debian-6.1.log"
    for form in ("dmesg -T", "journalctl -o short-iso-precise", "dmesg -H"):
        pasted = _write(tmp_path, "r820.txt", gzip.compress(field_forms.FORMS[form](field.read_text()).encode()))
        assert main(["field-compare", str(pasted), str(replica)]) == ExitCode.PASS
        assert f"field read as: {form}" in capsys.readouterr().out
        assert main(["import", "--dmesg", str(pasted), "-o", str(tmp_path / "a.toml")]) == 0
        plain = _write(tmp_path / "plain", "r820.txt", field.read_bytes())
        assert main(["import", "--dmesg", str(plain), "-o", str(tmp_path / "b.toml")]) == 0
        capsys.readouterr()
        assert (tmp_path / "a.toml").read_text().replace(str(pasted), "F") == (
            tmp_path / "b.toml").read_text().replace(str(plain), "F")


def test_field_compare_says_which_lines_the_field_log_lacked() -> None:
    replica = load_boot_log(ROOT / "fixtures" / "field" / "replica" / "r820-full-size.debian-6.1.log")
    text = (ROOT / "fixtures" / "field" / "linuxhw-dell-r820-4node-pxm1.log").read_text()
    excerpt = parse_boot_log("\n".join(x for x in text.split("\n") if "Initmem setup" not in x))
    assert "'Initmem setup node N'" in compare_logs(excerpt, replica).field_lacks
    assert "'Initmem setup node N'" not in compare_logs(parse_boot_log(text), replica).field_lacks


# The mail (fixtures/field/SOURCE.md): `dmesg -H`, quoted, quoted-printable, no command line.
def test_the_8_node_mail_is_judged_from_its_zone_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(MAIL)]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert "read as: dmesg -H (quoted-printable, e-mail quoting)" in out
    assert "movable_node on (inferred from 'Movable zone start for each node'" in out
    _, log = load_field_boot_log(MAIL)
    verdict = hotplug_verdict(log)
    # "ACPI: SRAT: Node 1 PXM 1 [mem 0x10000000000-0x1ffffffffff] hotplug" … Node 7, and
    # "  Node 1: 0x0000010000000000" … under "Movable zone start for each node".
    assert [(r.node, r.start, r.status) for r in verdict.ranges] == [
        (n, start, HotplugStatus.HONOURED) for n, start in zip(range(1, 8), (
            0x10000000000, 0x80000000000, 0x90000000000, 0x100000000000, 0x110000000000,
            0x180000000000, 0x190000000000), strict=True)]
    # "    NODE_DATA(1) on node 0": the node's own memory was all hotplug.
    assert all(f"NODE_DATA({r.node}) on node 0" in r.reasons[0] for r in verdict.ranges)


def test_the_8_node_mail_without_a_movable_start_must_fail(tmp_path: Path) -> None:
    text = MAIL.read_text()
    line = "> [  +0.000001]   Node 3: 0x0000090000000000\n"
    assert line in text
    _, log = load_field_boot_log(_write(tmp_path, "cut.log", text.replace(line, "").encode()))
    verdict = hotplug_verdict(log)
    # The other nodes still start at their hotplug RAM: movable_node, node 3's mark cleared.
    assert verdict.outcome is Outcome.VIOLATED and verdict.movable_node is True
    bad = [r for r in verdict.ranges if r.ok is False]
    assert [r.node for r in bad] == [3] and "no ZONE_MOVABLE on node 3" in bad[0].reasons[-1]


def test_a_start_off_the_hotplug_ranges_is_kernelcore_not_movable_node(tmp_path: Path) -> None:
    text = MAIL.read_text().replace("]   Node 3: 0x0000090000000000", "]   Node 3: 0x0000090400000000")
    verdict = hotplug_verdict(load_field_boot_log(_write(tmp_path, "kc.log", text.encode()))[1])
    assert verdict.movable_node is None and "kernelcore= or movablecore= inferred" in verdict.movable_how
    assert verdict.outcome is Outcome.VIOLATED  # node 3's range starts below its ZONE_MOVABLE


def test_without_zone_lines_the_verdict_names_the_missing_lines(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    kept = [x for x in MAIL.read_text().split("\n")
            if not re.search(r"Zone ranges|Movable zone|DMA|Normal|Device|Node \d: 0x|node +\d: \[|Early memory|"
                             r"\) on node", x)]
    path = _write(tmp_path, "srat-only.log", "\n".join(kept).encode())
    assert main(["parse", str(path)]) == ExitCode.CANNOT_TEST
    out = capsys.readouterr().out
    assert "cannot tell: the log lacks a 'MEMBLOCK configuration:' dump" in out
    assert "'Zone ranges:' and 'Movable zone start for each node'" in out and "'Command line:'" in out


def test_json_says_the_form_and_the_boots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "t.log", field_forms.dmesg_t(PINNED.read_text()).encode())
    main(["parse", "--json", str(path)])
    data = json.loads(capsys.readouterr().out)
    assert data["read_as"] == "dmesg -T" and data["boot"] == 1 and len(data["boots"]) == 1


def test_a_journal_pasted_with_its_clock_cut(capsys: pytest.CaptureFixture[str]) -> None:
    # "linux kernel: ACPI: SRAT: Node 0 PXM 0 [mem 0x1c0000000-0x43fffffff] hotplug" with
    # e820 RAM ending at 0x1bfffffff: a hot-add window, nothing to pin.
    path = ROOT / "fixtures" / "field" / "linux-mm-2node-movablecore-journal-no-clock.log"
    assert main(["parse", str(path)]) == ExitCode.PASS
    assert "read as: journalctl or syslog, clock cut" in capsys.readouterr().out
    _, log = load_field_boot_log(path)
    assert [(s.node, s.start, s.hotplug) for s in log.srat_memory][-1] == (0, 0x1C0000000, True)
    assert hotplug_verdict(log).ranges[0].status is HotplugStatus.NO_BOOT_MEMORY


def test_a_log_saved_as_utf16_by_a_windows_editor(tmp_path: Path) -> None:
    path = _write(tmp_path, "notepad.txt", "\ufeff".encode("utf-16-le") + field_forms.dmesg_t(
        PINNED.read_text()).replace("\n", "\r\n").encode("utf-16-le"))
    field = read_field_log(path)
    assert field.read_as == "dmesg -T (CRLF), UTF-16"
    assert _facts(path) == _facts(PINNED)


def test_a_line_printed_before_the_banner_is_the_same_boot(tmp_path: Path) -> None:
    # "[    0.000000] microcode: microcode updated early …" is line 1, the banner line 2.
    r820 = ROOT / "fixtures" / "field" / "linuxhw-dell-r820-4node-pxm1.log"
    assert len(read_field_log(r820).boots) == 1
    # Its dmesg -T form: the same wall-clock second; a previous boot's tail is not.
    same = field_forms.dmesg_t(r820.read_text())
    assert len(read_field_log(_write(tmp_path, "t.log", same.encode())).boots) == 1
    tail = "[Sun Dec  6 11:30:02 2026] reboot: Restarting system\n"
    assert len(read_field_log(_write(tmp_path, "t2.log", (tail + same).encode())).boots) == 2
    # A syslog whose first boot was cut before its banner: the clock says which is which.
    cut = "\n".join(field_forms.syslog(PINNED.read_text()).split("\n")[300:])
    both = cut + "\n" + field_forms.syslog(r820.read_text())
    field = read_field_log(_write(tmp_path, "s.log", both.encode()))
    assert [b.release for b in field.boots] == [None, "5.8.0-55-generic"]


_ZONE_LINES = re.compile(r"Zone ranges|Movable zone|DMA|Normal|Device|Node \d: 0x|node +\d: \[|Early memory|"
                         r"Initmem|^ffff\]$|On node")


def _mail_without_zone_lines(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    text = MAIL.read_text()
    if edit is not None:
        assert edit[0] in text
        text = text.replace(*edit)
    kept = [x for x in text.split("\n") if not _ZONE_LINES.search(x)]
    return _write(tmp_path, "no-zones.log", "\n".join(kept).encode())


def test_without_zone_lines_the_node_data_lines_judge(tmp_path: Path) -> None:
    verdict = hotplug_verdict(load_field_boot_log(_mail_without_zone_lines(tmp_path))[1])
    assert verdict.outcome is Outcome.CLEAN and verdict.movable_node is True
    assert verdict.movable_how.startswith("inferred from 'NODE_DATA(1) on node 0'")
    assert {r.status for r in verdict.ranges} == {HotplugStatus.HONOURED}


def test_node_data_on_its_own_hotplug_node_must_fail(tmp_path: Path) -> None:
    # Node 3's pglist_data inside its own hotplug range: memblock did not skip it.
    edit = ("NODE_DATA(3) allocated [mem 0xfffff58000-0xfffff81fff]\n> [  +0.000000]     NODE_DATA(3) on node 0",
            "NODE_DATA(3) allocated [mem 0x90ffffd6000-0x90fffffffff]")
    verdict = hotplug_verdict(load_field_boot_log(_mail_without_zone_lines(tmp_path, edit))[1])
    assert verdict.outcome is Outcome.VIOLATED
    bad = [r for r in verdict.ranges if r.ok is False]
    assert [r.node for r in bad] == [3] and "NODE_DATA(3)" in bad[0].reasons[-1]


def test_a_log_cut_before_its_outcome_dump_never_contradicts_it() -> None:
    """Every recorded memblock=debug boot cut before the dump that shows the marks' fate:
    what the earlier lines (NODE_DATA, zones) let memhp judge agrees with the dump."""
    judged = 0
    for path in LOGS:
        lines = path.read_text().split("\n")
        dumps = [i for i, line in enumerate(lines) if line.endswith("MEMBLOCK configuration:")]
        if len(dumps) < 2:
            continue
        full = {(r.node, r.start): r.ok for r in hotplug_verdict(load_boot_log(path)).ranges}
        for r in hotplug_verdict(parse_boot_log("\n".join(lines[:dumps[1]]) + "\n")).ranges:
            assert r.ok in (None, full[(r.node, r.start)]), (path.name, r.node, r.reasons)
            judged += r.ok is not None and r.status is not HotplugStatus.NO_BOOT_MEMORY
    assert judged >= 20  # 26 when written: not a property that holds by judging nothing
