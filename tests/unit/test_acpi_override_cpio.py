import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from acpi_tables.override_cpio import TABLE_SIGS_6_12, build_override_archive, check_upgrade
from acpi_tables.srat import decode_srat, encode_srat
from harness.errors import BadInputError

FIXTURES = Path(__file__).parents[2] / "fixtures/acpi"
SRAT = (FIXTURES / "qemu-7.2-pc-3node.srat.aml").read_bytes()
SLIT = (FIXTURES / "qemu-7.2-pc-3node.slit.aml").read_bytes()
needs_cpio = pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio not installed")


def _upgraded(oem_revision: int = 2, oem_id: str = "BOCHS ") -> bytes:
    srat = decode_srat(SRAT)
    return encode_srat(replace(srat, header=replace(srat.header, oem_revision=oem_revision, oem_id=oem_id)))


@needs_cpio
def test_cpio_lists_the_directories_and_tables() -> None:
    archive = build_override_archive({"srat": SRAT, "slit": SLIT})
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=archive, capture_output=True, check=True).stdout
    assert listing.decode().split() == [
        "kernel", "kernel/firmware", "kernel/firmware/acpi",
        "kernel/firmware/acpi/srat.aml", "kernel/firmware/acpi/slit.aml",
    ]


@needs_cpio
def test_cpio_extracts_byte_identical_tables(tmp_path: Path) -> None:
    archive = build_override_archive({"srat": SRAT, "slit": SLIT})
    subprocess.run(["cpio", "-id", "--quiet"], input=archive, cwd=tmp_path, check=True)
    assert (tmp_path / "kernel/firmware/acpi/srat.aml").read_bytes() == SRAT
    assert (tmp_path / "kernel/firmware/acpi/slit.aml").read_bytes() == SLIT


def test_archive_layout_is_what_earlycpio_reads() -> None:
    archive = build_override_archive({"slit": SLIT})  # 53 bytes: data needs padding
    assert archive.startswith(b"070701") and len(archive) % 4 == 0
    name = b"kernel/firmware/acpi/slit.aml\0"
    start = archive.index(name)
    data = start + len(name) + (-(start + len(name)) % 4)
    assert archive[data:data + len(SLIT)] == SLIT
    assert archive[data + len(SLIT):].startswith(b"\x00\x00\x00" + b"070701")  # padded to 4, then the trailer
    assert b"TRAILER!!!\0" in archive[-16:]


def test_archive_limits() -> None:
    with pytest.raises(BadInputError, match="at most 64"):
        build_override_archive({f"t{i}": SRAT for i in range(65)})
    for bad in ("srat.aml", "a/b", "", "a_very_long_name"):
        with pytest.raises(BadInputError, match="table file name"):
            build_override_archive({bad: SRAT})


def test_check_upgrade_accepts_a_proper_replacement_and_addition() -> None:
    firmware = decode_srat(SRAT).header
    assert check_upgrade(_upgraded(), firmware) == []
    assert check_upgrade(SLIT, None) == []


def test_check_upgrade_restates_the_kernel_rules() -> None:
    firmware = decode_srat(SRAT).header
    assert check_upgrade(_upgraded(1), firmware) == ["OEM revision 0x1 is not higher than the replaced table's 0x1"]
    assert check_upgrade(_upgraded(oem_id="MEMHP "), firmware) == [
        "OEM ID 'MEMHP ' differs from the replaced table's 'BOCHS ', so it would be added, not replace it"
    ]
    corrupt = bytearray(_upgraded())
    corrupt[0x60] ^= 1
    assert check_upgrade(bytes(corrupt), None) == ["bad checksum: the bytes sum to 0x01 modulo 256, not 0"]
    assert check_upgrade(_upgraded() + b"\0", None) == ["file size 321 does not equal the header length 320"]
    assert check_upgrade(b"SRAT", None) == ["table is 4 bytes, smaller than the 36-byte ACPI header"]


def test_signature_list_follows_the_kernel_version() -> None:
    nbft = b"NBFT" + SLIT[4:]
    fixed = bytearray(nbft)
    fixed[9] = (fixed[9] + sum(SLIT[:4]) - sum(b"NBFT")) & 0xFF
    assert check_upgrade(bytes(fixed), None) == ["signature 'NBFT' is not one the kernel accepts from the initrd"]
    assert check_upgrade(bytes(fixed), None, TABLE_SIGS_6_12) == []
    facs = bytearray(fixed)
    facs[:4] = b"FACS"
    assert "signature 'FACS' is not one" in check_upgrade(bytes(facs), None)[0]
