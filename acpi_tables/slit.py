"""SLIT, the System Locality Distance Information Table (ACPI 6.5 §5.2.17)."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from harness.errors import BadInputError, ParseError

from .header import HEADER_SIZE, AcpiTableHeader, build_table, check_table

SIGNATURE = "SLIT"
_COUNT = struct.Struct("<Q")  # locality_count
_FIXED_END = HEADER_SIZE + _COUNT.size


@dataclass(frozen=True)
class Slit:
    """``struct acpi_table_slit``; ``distances[i][j]`` is the distance from locality i to j."""

    header: AcpiTableHeader
    distances: tuple[tuple[int, ...], ...]

    @property
    def locality_count(self) -> int:
        return len(self.distances)


def encode_slit(slit: Slit) -> bytes:
    """The table's bytes, with length and checksum computed."""
    if slit.header.signature != SIGNATURE:
        raise BadInputError(f"SLIT header has signature {slit.header.signature!r}")
    count = slit.locality_count
    for i, row in enumerate(slit.distances):
        if len(row) != count:
            raise BadInputError(f"SLIT row {i} has {len(row)} distances, expected {count} (a square matrix)")
        bad = [d for d in row if not 0 <= d <= 0xFF]
        if bad:
            raise BadInputError(f"SLIT row {i}: distance {bad[0]} does not fit one byte")
    matrix = bytes(d for row in slit.distances for d in row)
    return build_table(slit.header, _COUNT.pack(count) + matrix)


def decode_slit(data: bytes, where: str = "<bytes>") -> Slit:
    """Parse a whole SLIT; any defect raises :class:`ParseError` naming the offset."""
    header = check_table(data, SIGNATURE, _FIXED_END, where)
    (count,) = _COUNT.unpack_from(data, HEADER_SIZE)
    matrix = data[_FIXED_END:]
    # Compare before allocating: a corrupt count can be up to 2**64.
    if count * count != len(matrix):
        raise ParseError(
            f"{where}: offset {HEADER_SIZE:#x}",
            f"locality_count {count} needs {count}x{count} distance bytes, the table has {len(matrix)}",
        )
    rows = tuple(tuple(matrix[i * count:(i + 1) * count]) for i in range(count))
    return Slit(header, rows)
