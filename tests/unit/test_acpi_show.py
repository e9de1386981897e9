import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from acpi_tables.show import format_slit, format_srat, read_table_file
from acpi_tables.slit import decode_slit
from acpi_tables.srat import X2ApicAffinity, decode_srat
from harness.errors import BadInputError, ParseError

FIXTURES = Path(__file__).parents[2] / "fixtures/acpi"
SRAT_PATH = FIXTURES / "qemu-7.2-pc-3node.srat.aml"
SRAT = SRAT_PATH.read_bytes()
SLIT = (FIXTURES / "qemu-7.2-pc-3node.slit.aml").read_bytes()
DUMP = FIXTURES / "qemu-7.2-pc-3node.acpidump.txt"
needs_iasl = pytest.mark.skipif(shutil.which("iasl") is None, reason="iasl (acpica-tools) not installed")


def test_binary_table_is_returned_as_is() -> None:
    assert read_table_file(SRAT_PATH) == SRAT


def test_acpidump_text_picks_the_named_table() -> None:
    assert read_table_file(DUMP, "SRAT") == SRAT
    assert read_table_file(DUMP, "SLIT") == SLIT
    with pytest.raises(BadInputError, match=r"several tables in this acpidump \(it has SRAT, SLIT\)"):
        read_table_file(DUMP)
    with pytest.raises(BadInputError, match="no APIC table"):
        read_table_file(DUMP, "APIC")


def test_single_table_acpidump_needs_no_signature(tmp_path: Path) -> None:
    one = tmp_path / "srat.txt"
    one.write_text(DUMP.read_text().split("SLIT @")[0])
    assert read_table_file(one) == SRAT


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda t: t.replace("    0020: ", "    0030: ", 1), r"srat\.txt: line 4: hex dump offset 0x30, expected 0x20"),
        (lambda t: t.replace("    0020: 01", "    0020: zz", 1), r"srat\.txt: line 4: expected acpidump text"),
        (lambda t: "hello\n", r"srat\.txt: line 1: expected acpidump text"),
    ],
)
def test_broken_acpidump_names_file_and_line(tmp_path: Path, edit: Callable[[str], str], pattern: str) -> None:
    path = tmp_path / "srat.txt"
    path.write_text(edit(DUMP.read_text()))
    with pytest.raises(ParseError, match=pattern):
        read_table_file(path, "SRAT")


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"nope\.aml: cannot read"):
        read_table_file(tmp_path / "nope.aml")


@needs_iasl
def test_iasl_source_is_compiled() -> None:
    srat = decode_srat(read_table_file(FIXTURES / "two-socket-server.dsl"))
    assert [s.apic_id for s in srat.subtables if isinstance(s, X2ApicAffinity)] == [0, 1, 0x40, 0x41]
    assert [m.hot_pluggable for m in srat.memory_affinities] == [False, False, False, True, True]


def test_format_srat() -> None:
    text = format_srat(decode_srat(SRAT))
    assert "SRAT rev 1 OEM 'BOCHS ' 'BXPC    ' oem_revision 0x1" in text
    lines = text.splitlines()
    assert lines[2].split() == ["0", "apic", "0", "APIC", "ID", "0x0", "enabled"]
    assert lines[5].split() == ["3", "memory", "0", "[mem", "0x100000-0x7fffffff]", "2047", "MiB", "enabled"]
    assert lines[8].split() == ["6", "memory", "0", "(empty)", "0", "B", "disabled"]
    assert lines[9].split() == ["7", "memory", "2", "[mem", "0x140000000-0x33fffffff]", "8", "GiB", "enabled",
                                "hotplug"]


def test_format_slit() -> None:
    assert format_slit(decode_slit(SLIT)).splitlines()[1:] == [
        "from\\to    0    1    2",
        "      0   10   20   30",
        "      1   20   10   25",
        "      2   30   25   10",
    ]
