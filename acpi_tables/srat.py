"""SRAT, the System Resource Affinity Table (ACPI 6.5 §5.2.16; ``include/acpi/actbl3.h``).

A subtable is decoded into its typed class only when its reserved bytes are zero;
otherwise it stays a :class:`RawSubtable`, so that every table re-encodes byte for
byte. Lengths the kernel would reject (``drivers/acpi/numa/srat.c`` calls
``bad_srat()``) are parse errors.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Union

from harness.errors import BadInputError, ParseError

from .header import AcpiTableHeader, build_table, check_table, pack_fields

SIGNATURE = "SRAT"
_FIXED = struct.Struct("<IQ")  # table_revision, reserved
_FIXED_END = 36 + _FIXED.size
_SUBTABLE_HEADER = struct.Struct("<BB")


@dataclass(frozen=True)
class ProcessorLocalApicAffinity:
    """Type 0, ``struct acpi_srat_cpu_affinity``; the domain joins its low and high bytes."""

    TYPE: ClassVar[int] = 0
    ENABLED: ClassVar[int] = 1
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BBBBIB3sI")

    proximity_domain: int
    apic_id: int
    flags: int = ENABLED
    local_sapic_eid: int = 0
    clock_domain: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.flags & self.ENABLED)

    def encode(self) -> bytes:
        if not 0 <= self.proximity_domain < 1 << 32:
            raise BadInputError(f"{self}: proximity_domain does not fit 32 bits")
        high = (self.proximity_domain >> 8).to_bytes(3, "little")
        return pack_fields(
            repr(self), self._LAYOUT, self.TYPE, self._LAYOUT.size, self.proximity_domain & 0xFF,
            self.apic_id, self.flags, self.local_sapic_eid, high, self.clock_domain,
        )

    @classmethod
    def decode(cls, raw: bytes) -> ProcessorLocalApicAffinity:
        _, _, low, apic_id, flags, eid, high, clock = cls._LAYOUT.unpack(raw)
        return cls(low | int.from_bytes(high, "little") << 8, apic_id, flags, eid, clock)


@dataclass(frozen=True)
class MemoryAffinity:
    """Type 1, ``struct acpi_srat_mem_affinity``."""

    TYPE: ClassVar[int] = 1
    ENABLED: ClassVar[int] = 1
    HOT_PLUGGABLE: ClassVar[int] = 2
    NON_VOLATILE: ClassVar[int] = 4
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BBIHQQIIQ")

    proximity_domain: int
    base_address: int
    length: int
    flags: int = ENABLED

    @property
    def end(self) -> int:
        return self.base_address + self.length

    @property
    def enabled(self) -> bool:
        return bool(self.flags & self.ENABLED)

    @property
    def hot_pluggable(self) -> bool:
        return bool(self.flags & self.HOT_PLUGGABLE)

    @property
    def non_volatile(self) -> bool:
        return bool(self.flags & self.NON_VOLATILE)

    def encode(self) -> bytes:
        return pack_fields(
            repr(self), self._LAYOUT, self.TYPE, self._LAYOUT.size, self.proximity_domain, 0,
            self.base_address, self.length, 0, self.flags, 0,
        )

    @classmethod
    def decode(cls, raw: bytes) -> MemoryAffinity | None:
        _, _, domain, res, base, length, res1, flags, res2 = cls._LAYOUT.unpack(raw)
        return cls(domain, base, length, flags) if res == res1 == res2 == 0 else None


@dataclass(frozen=True)
class X2ApicAffinity:
    """Type 2, ``struct acpi_srat_x2apic_cpu_affinity``."""

    TYPE: ClassVar[int] = 2
    ENABLED: ClassVar[int] = 1
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BBHIIIII")

    proximity_domain: int
    apic_id: int
    flags: int = ENABLED
    clock_domain: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.flags & self.ENABLED)

    def encode(self) -> bytes:
        return pack_fields(
            repr(self), self._LAYOUT, self.TYPE, self._LAYOUT.size, 0, self.proximity_domain,
            self.apic_id, self.flags, self.clock_domain, 0,
        )

    @classmethod
    def decode(cls, raw: bytes) -> X2ApicAffinity | None:
        _, _, res, domain, apic_id, flags, clock, res2 = cls._LAYOUT.unpack(raw)
        return cls(domain, apic_id, flags, clock) if res == res2 == 0 else None


@dataclass(frozen=True)
class GenericInitiatorAffinity:
    """Type 5, ``struct acpi_srat_generic_affinity`` (ACPI 6.3)."""

    TYPE: ClassVar[int] = 5
    ENABLED: ClassVar[int] = 1
    ARCHITECTURAL_TRANSACTIONS: ClassVar[int] = 2
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BBBBI16sII")

    device_handle_type: int
    proximity_domain: int
    device_handle: bytes
    flags: int = ENABLED

    @property
    def enabled(self) -> bool:
        return bool(self.flags & self.ENABLED)

    def encode(self) -> bytes:
        if len(self.device_handle) != 16:
            raise BadInputError(f"{self}: device_handle must be 16 bytes")
        return pack_fields(
            repr(self), self._LAYOUT, self.TYPE, self._LAYOUT.size, 0, self.device_handle_type,
            self.proximity_domain, self.device_handle, self.flags, 0,
        )

    @classmethod
    def decode(cls, raw: bytes) -> GenericInitiatorAffinity | None:
        _, _, res, handle_type, domain, handle, flags, res1 = cls._LAYOUT.unpack(raw)
        return cls(handle_type, domain, handle, flags) if res == res1 == 0 else None


@dataclass(frozen=True)
class RawSubtable:
    """Any other subtable (GICC, GIC ITS, Generic Port, future types): ``data`` follows type and length."""

    type: int
    data: bytes

    def encode(self) -> bytes:
        if not 0 <= self.type <= 0xFF or len(self.data) > 0xFF - 2:
            raise BadInputError(f"raw SRAT subtable type {self.type}: type or {len(self.data)}-byte data too large")
        return bytes((self.type, len(self.data) + 2)) + self.data


Subtable = Union[ProcessorLocalApicAffinity, MemoryAffinity, X2ApicAffinity, GenericInitiatorAffinity, RawSubtable]
_TYPED = {cls.TYPE: cls for cls in (ProcessorLocalApicAffinity, MemoryAffinity, X2ApicAffinity, GenericInitiatorAffinity)}
_NAMES = {0: "processor local APIC affinity", 1: "memory affinity", 2: "x2APIC affinity", 5: "generic initiator affinity"}


@dataclass(frozen=True)
class Srat:
    """``struct acpi_table_srat`` and its subtables in table order."""

    header: AcpiTableHeader
    table_revision: int = 1
    reserved: int = 0
    subtables: tuple[Subtable, ...] = ()

    @property
    def memory_affinities(self) -> tuple[MemoryAffinity, ...]:
        return tuple(s for s in self.subtables if isinstance(s, MemoryAffinity))


def encode_srat(srat: Srat) -> bytes:
    """The table's bytes, with length and checksum computed."""
    if srat.header.signature != SIGNATURE:
        raise BadInputError(f"SRAT header has signature {srat.header.signature!r}")
    fixed = pack_fields("SRAT table_revision/reserved", _FIXED, srat.table_revision, srat.reserved)
    return build_table(srat.header, fixed + b"".join(s.encode() for s in srat.subtables))


def decode_srat(data: bytes, where: str = "<bytes>") -> Srat:
    """Parse a whole SRAT; any defect raises :class:`ParseError` naming the offset."""
    header = check_table(data, SIGNATURE, _FIXED_END, where)
    table_revision, reserved = _FIXED.unpack_from(data, 36)
    subtables: list[Subtable] = []
    offset = _FIXED_END
    while offset < len(data):
        subtables.append(_decode_subtable(data, offset, where))
        offset += data[offset + 1]
    return Srat(header, table_revision, reserved, tuple(subtables))


def _decode_subtable(data: bytes, offset: int, where: str) -> Subtable:
    if offset + _SUBTABLE_HEADER.size > len(data):
        raise ParseError(f"{where}: offset {offset:#x}", "table ends inside a subtable header")
    kind, length = _SUBTABLE_HEADER.unpack_from(data, offset)
    if length < _SUBTABLE_HEADER.size:
        raise ParseError(f"{where}: offset {offset:#x}", f"subtable type {kind} has length {length}, less than 2")
    if offset + length > len(data):
        raise ParseError(
            f"{where}: offset {offset:#x}",
            f"subtable type {kind} of length {length} runs past the table end at {len(data):#x}",
        )
    raw = data[offset:offset + length]
    typed = _TYPED.get(kind)
    if typed is None:
        return RawSubtable(kind, raw[2:])
    if length != typed._LAYOUT.size:
        raise ParseError(
            f"{where}: offset {offset:#x}",
            f"{_NAMES[kind]} subtable has length {length}, the ACPI spec says {typed._LAYOUT.size}",
        )
    return typed.decode(raw) or RawSubtable(kind, raw[2:])
