"""The 36-byte ACPI table header (ACPI 6.5 §5.2.6, ``struct acpi_table_header``).

``length`` and ``checksum`` are derived from the bytes, so they take no part in
equality: a table decoded from its own encoding compares equal to the original
even if the original carried stale values.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from harness.errors import BadInputError, ParseError

HEADER_SIZE = 36
_HEADER = struct.Struct("<4sIBB6s8sI4sI")
_CHECKSUM_OFFSET = 9


@dataclass(frozen=True)
class AcpiTableHeader:
    """``struct acpi_table_header``; text fields are Latin-1 so any byte survives."""

    signature: str
    length: int = field(compare=False)
    revision: int
    checksum: int = field(compare=False)
    oem_id: str
    oem_table_id: str
    oem_revision: int
    asl_compiler_id: str
    asl_compiler_revision: int

    def encode(self) -> bytes:
        """The header exactly as stored (``length`` and ``checksum`` as given)."""
        texts = [
            _fixed_text(name, value, width)
            for name, value, width in (
                ("signature", self.signature, 4),
                ("oem_id", self.oem_id, 6),
                ("oem_table_id", self.oem_table_id, 8),
                ("asl_compiler_id", self.asl_compiler_id, 4),
            )
        ]
        return pack_fields(
            f"{self.signature!r} header",
            _HEADER,
            texts[0], self.length, self.revision, self.checksum, texts[1], texts[2],
            self.oem_revision, texts[3], self.asl_compiler_revision,
        )

    @classmethod
    def decode(cls, data: bytes, where: str = "<bytes>") -> AcpiTableHeader:
        """The header at the start of ``data``."""
        if len(data) < HEADER_SIZE:
            raise ParseError(
                f"{where}: offset 0x0",
                f"{len(data)} bytes is shorter than the {HEADER_SIZE}-byte ACPI table header",
            )
        sig, length, rev, csum, oem, oem_table, oem_rev, asl_id, asl_rev = _HEADER.unpack_from(data)
        return cls(
            sig.decode("latin-1"), length, rev, csum, oem.decode("latin-1"),
            oem_table.decode("latin-1"), oem_rev, asl_id.decode("latin-1"), asl_rev,
        )


def table_checksum(data: bytes | bytearray) -> int:
    """The byte sum modulo 256, as the kernel's ``acpi_table_checksum``: 0 means valid."""
    return sum(data) & 0xFF


def build_table(header: AcpiTableHeader, payload: bytes) -> bytes:
    """Header + payload with the header's length and checksum made correct."""
    length = HEADER_SIZE + len(payload)
    draft = bytearray(
        AcpiTableHeader(
            header.signature, length, header.revision, 0, header.oem_id, header.oem_table_id,
            header.oem_revision, header.asl_compiler_id, header.asl_compiler_revision,
        ).encode()
        + payload
    )
    draft[_CHECKSUM_OFFSET] = -table_checksum(draft) & 0xFF
    return bytes(draft)


def check_table(data: bytes, signature: str, minimum: int, where: str) -> AcpiTableHeader:
    """Decode the header of a whole table and check signature, length and checksum."""
    header = AcpiTableHeader.decode(data, where)
    if header.signature != signature:
        raise ParseError(f"{where}: offset 0x0", f"signature is {header.signature!r}, expected {signature!r}")
    if header.length != len(data):
        raise ParseError(
            f"{where}: offset 0x4",
            f"header length is {header.length:#x} but the table has {len(data):#x} bytes",
        )
    if header.length < minimum:
        raise ParseError(
            f"{where}: offset 0x4",
            f"length {header.length:#x} is shorter than the {minimum:#x}-byte fixed part of {signature}",
        )
    if table_checksum(data):
        raise ParseError(
            f"{where}: offset 0x9",
            f"bad checksum: the bytes sum to {table_checksum(data):#04x} modulo 256, not 0",
        )
    return header


def pack_fields(what: str, layout: struct.Struct, *values: object) -> bytes:
    """``layout.pack`` with out-of-range values reported as bad input, not ``struct.error``."""
    try:
        return layout.pack(*values)
    except struct.error as err:
        raise BadInputError(f"{what}: a field does not fit its ACPI width ({err})") from err


def _fixed_text(name: str, value: str, width: int) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError as err:
        raise BadInputError(f"header {name} {value!r}: not Latin-1 text") from err
    if len(raw) != width:
        raise BadInputError(f"header {name} {value!r} must be exactly {width} characters (pad with spaces)")
    return raw
