"""The initrd ACPI table-upgrade archive and the kernel's acceptance rules.

The kernel (``lib/earlycpio.c:find_cpio_data``) reads an *uncompressed* newc cpio at
offset 0 of the initrd, so the archive built here must be prepended to the
(compressed) initramfs. ``drivers/acpi/tables.c:acpi_table_initrd_init`` and
``acpi_table_initrd_override`` decide what each file does; :func:`check_upgrade`
restates those rules.
"""
from __future__ import annotations

from collections.abc import Mapping

from harness.errors import BadInputError

from .header import HEADER_SIZE, AcpiTableHeader, table_checksum

ACPI_INITRD_PATH = "kernel/firmware/acpi"
NR_ACPI_INITRD_TABLES = 64
# cpio_data.name holds MAX_CPIO_FILE_NAME (18) bytes with the NUL; longer names are
# truncated in the kernel's messages, which the log parsers would then not match.
_MAX_NAME = 18 - 1 - len(".aml")

# drivers/acpi/tables.c table_sigs[] in 6.1; 6.12 adds NBFT.
TABLE_SIGS: frozenset[str] = frozenset({
    "BERT", "BGRT", "CPEP", "ECDT", "EINJ", "ERST", "HEST", "APIC", "MSCT", "SBST", "SLIT", "SRAT",
    "ASF!", "BOOT", "DBGP", "DMAR", "HPET", "IBFT", "IVRS", "MCFG", "MCHI", "SLIC", "SPCR", "SPMI",
    "TCPA", "UEFI", "WAET", "WDAT", "WDDT", "WDRT", "DSDT", "FACP", "PSDT", "RSDT", "XSDT", "SSDT",
    "IORT", "NFIT", "HMAT", "PPTT", "NHLT", "AEST", "CEDT", "AGDI",
})
TABLE_SIGS_6_12: frozenset[str] = TABLE_SIGS | {"NBFT"}

_DIR_MODE = 0o040755
_FILE_MODE = 0o100644


def build_override_archive(tables: Mapping[str, bytes]) -> bytes:
    """An uncompressed newc cpio with ``kernel/firmware/acpi/<name>.aml`` per table, in order."""
    if len(tables) > NR_ACPI_INITRD_TABLES:
        raise BadInputError(f"{len(tables)} tables: the kernel reads at most {NR_ACPI_INITRD_TABLES}")
    entries: list[tuple[str, int, bytes]] = []
    parts = ACPI_INITRD_PATH.split("/")
    for depth in range(1, len(parts) + 1):
        entries.append(("/".join(parts[:depth]), _DIR_MODE, b""))
    for name, data in tables.items():
        _check_name(name)
        entries.append((f"{ACPI_INITRD_PATH}/{name}.aml", _FILE_MODE, bytes(data)))
    members = [_member(ino, path, mode, data) for ino, (path, mode, data) in enumerate(entries, start=1)]
    return b"".join(members) + _member(0, "TRAILER!!!", 0, b"")


def check_upgrade(
    new_table: bytes,
    replaced: AcpiTableHeader | None,
    table_sigs: frozenset[str] = TABLE_SIGS,
) -> list[str]:
    """Why the kernel would not use ``new_table`` (to replace ``replaced``, or to add if None)."""
    if len(new_table) < HEADER_SIZE:
        return [f"table is {len(new_table)} bytes, smaller than the {HEADER_SIZE}-byte ACPI header"]
    new = AcpiTableHeader.decode(new_table)
    problems = []
    if new.signature not in table_sigs:
        problems.append(f"signature {new.signature!r} is not one the kernel accepts from the initrd")
    if new.length != len(new_table):
        problems.append(f"file size {len(new_table)} does not equal the header length {new.length}")
    elif table_checksum(new_table):
        problems.append(f"bad checksum: the bytes sum to {table_checksum(new_table):#04x} modulo 256, not 0")
    if replaced is not None:
        problems += _replacement_problems(new, replaced)
    return problems


def _replacement_problems(new: AcpiTableHeader, old: AcpiTableHeader) -> list[str]:
    ids = (("signature", new.signature, old.signature), ("OEM ID", new.oem_id, old.oem_id),
           ("OEM table ID", new.oem_table_id, old.oem_table_id))
    problems = [
        f"{what} {mine!r} differs from the replaced table's {theirs!r}, so it would be added, not replace it"
        for what, mine, theirs in ids if mine != theirs
    ]
    if new.oem_revision <= old.oem_revision:
        problems.append(
            f"OEM revision {new.oem_revision:#x} is not higher than the replaced table's {old.oem_revision:#x}"
        )
    return problems


def _check_name(name: str) -> None:
    if not name or "/" in name or "\0" in name or name.endswith(".aml") or len(name) > _MAX_NAME:
        raise BadInputError(
            f"table file name {name!r}: give a plain name of at most {_MAX_NAME} characters without "
            f"'/' or '.aml' (it becomes {ACPI_INITRD_PATH}/<name>.aml)"
        )


def _member(ino: int, path: str, mode: int, data: bytes) -> bytes:
    """One newc member; header+name and data are each padded to 4 bytes (``PTR_ALIGN`` in earlycpio)."""
    name = path.encode("ascii") + b"\0"
    nlink = 2 if mode == _DIR_MODE else 1
    # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name), 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    return _pad4(header + name) + _pad4(data)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
