"""The x86 bzImage: its setup header and the compressed vmlinux it carries.

Layout from Documentation/x86/boot.rst: the real-mode setup header sits at 0x1f1,
the protected-mode part starts at ``(setup_sects + 1) * 512`` and, from boot
protocol 2.08 on, ``payload_offset``/``payload_length`` locate the compressed
``vmlinux.bin`` inside it. The payload ends with the 4-byte decompressed size the
build appends (scripts/Makefile.lib ``size_append``), so every decompressor here
stops at the end of its stream and ignores what follows.
"""
from __future__ import annotations

import bz2
import enum
import lzma
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ParseError

HDRS_MAGIC = b"HdrS"
ELF_MAGIC = b"\x7fELF"
# Offsets into the boot sector / setup header (Documentation/x86/boot.rst).
_SETUP_SECTS = 0x1F1
_HEADER_MAGIC = 0x202
_VERSION = 0x206
_KERNEL_VERSION = 0x20E
_PAYLOAD_OFFSET = 0x248
_PAYLOAD_LENGTH = 0x24C
_MIN_PAYLOAD_PROTOCOL = 0x208
# The legacy LZ4 format the kernel's lz4 wrapper writes (lib/decompress_unlz4.c).
_LZ4_LEGACY_MAGIC = b"\x02\x21\x4c\x18"
_LZ4_LEGACY_BLOCK = 8 << 20


class Compression(enum.Enum):
    """Payload compressors the kernel can build with, keyed by stream magic."""

    GZIP = b"\x1f\x8b"
    XZ = b"\xfd7zXZ\x00"
    ZSTD = b"\x28\xb5\x2f\xfd"
    LZMA = b"\x5d\x00\x00"
    LZ4 = _LZ4_LEGACY_MAGIC
    BZIP2 = b"BZh"
    LZO = b"\x89LZO"


@dataclass(frozen=True)
class SetupHeader:
    """The fields of ``struct setup_header`` memhp needs (names as in bootparam.h)."""

    setup_sects: int
    version: int
    kernel_version: str
    payload_offset: int
    payload_length: int

    @property
    def protected_mode_offset(self) -> int:
        """File offset of the protected-mode kernel (0 setup_sects means 4)."""
        return ((self.setup_sects or 4) + 1) * 512

    @property
    def release(self) -> str:
        """``uname -r``: the first word of the kernel_version string."""
        return self.kernel_version.split(" ", 1)[0]


def read_setup_header(data: bytes, where: str) -> SetupHeader:
    """Parse the setup header of a bzImage held in ``data``; ``where`` names it in errors."""
    if len(data) < _PAYLOAD_LENGTH + 4:
        raise ParseError(where, f"{len(data)} bytes is too short for a bzImage setup header")
    if data[_HEADER_MAGIC:_HEADER_MAGIC + 4] != HDRS_MAGIC:
        raise ParseError(where, f"offset {_HEADER_MAGIC:#x}: no 'HdrS' magic, not a bzImage")
    (version,) = struct.unpack_from("<H", data, _VERSION)
    if version < _MIN_PAYLOAD_PROTOCOL:
        raise ParseError(where, f"offset {_VERSION:#x}: boot protocol {version:#x} predates 2.08")
    (kv_ptr,) = struct.unpack_from("<H", data, _KERNEL_VERSION)
    payload_offset, payload_length = struct.unpack_from("<II", data, _PAYLOAD_OFFSET)
    return SetupHeader(
        setup_sects=data[_SETUP_SECTS],
        version=version,
        kernel_version=_c_string(data, kv_ptr + 0x200, where),
        payload_offset=payload_offset,
        payload_length=payload_length,
    )


def _c_string(data: bytes, offset: int, where: str) -> str:
    end = data.find(b"\x00", offset, offset + 512)
    if offset >= len(data) or end < 0:
        raise ParseError(where, f"offset {offset:#x}: kernel_version string is not terminated")
    return data[offset:end].decode("ascii", "replace")


def payload(data: bytes, header: SetupHeader, where: str) -> bytes:
    """The compressed vmlinux.bin (plus its 4-byte size trailer)."""
    start = header.protected_mode_offset + header.payload_offset
    end = start + header.payload_length
    if header.payload_length == 0 or end > len(data):
        raise ParseError(where, f"offset {start:#x}: payload of {header.payload_length} bytes "
                                f"does not fit in the {len(data)}-byte file")
    return data[start:end]


def detect_compression(blob: bytes, where: str) -> Compression:
    """The compressor of a payload, from its leading magic bytes."""
    for kind in Compression:
        if blob.startswith(kind.value):
            return kind
    raise ParseError(where, f"payload starts with {blob[:6].hex()}, no known compression magic")


def decompress(blob: bytes, kind: Compression, where: str) -> bytes:
    """Decompress one payload stream, ignoring the bytes after it."""
    try:
        return _DECOMPRESSORS[kind](blob)
    except KeyError:
        raise ParseError(where, f"{kind.name} payloads are not supported") from None
    except (OSError, ValueError, EOFError, lzma.LZMAError, zlib.error) as err:
        raise ParseError(where, f"{kind.name} payload does not decompress: {err}") from err


def _gunzip(blob: bytes) -> bytes:
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)


def _unxz(blob: bytes) -> bytes:
    return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(blob)


def _unlzma(blob: bytes) -> bytes:
    return lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(blob)


def _bunzip2(blob: bytes) -> bytes:
    return bz2.BZ2Decompressor().decompress(blob)


def _unzstd(blob: bytes) -> bytes:
    import zstandard  # imported here: only zstd kernels (Debian 6.12) need it

    # The kernel compresses with --ultra -22 and a window larger than the default limit.
    reader = zstandard.ZstdDecompressor(max_window_size=1 << 31).decompressobj()
    return reader.decompress(blob)


def _unlz4_legacy(blob: bytes) -> bytes:
    import lz4.block  # only lz4 kernels need it

    out = bytearray()
    pos = len(_LZ4_LEGACY_MAGIC)
    # Blocks are <le32 size><data> until the size trailer or another magic ends them.
    while pos + 4 <= len(blob):
        (size,) = struct.unpack_from("<I", blob, pos)
        if blob[pos:pos + 4] == _LZ4_LEGACY_MAGIC:
            pos += 4
            continue
        if size == 0 or pos + 4 + size > len(blob):
            break
        block = blob[pos + 4:pos + 4 + size]
        out += lz4.block.decompress(block, uncompressed_size=_LZ4_LEGACY_BLOCK)
        pos += 4 + size
    return bytes(out)


_DECOMPRESSORS = {
    Compression.GZIP: _gunzip,
    Compression.XZ: _unxz,
    Compression.LZMA: _unlzma,
    Compression.BZIP2: _bunzip2,
    Compression.ZSTD: _unzstd,
    Compression.LZ4: _unlz4_legacy,
}


def extract_vmlinux(bzimage: Path) -> bytes:
    """The ELF vmlinux inside ``bzimage`` (with x86 relocations appended, as built)."""
    where = str(bzimage)
    try:
        data = bzimage.read_bytes()
    except OSError as err:
        raise ParseError(where, f"cannot read: {err.strerror}") from err
    header = read_setup_header(data, where)
    blob = payload(data, header, where)
    elf = decompress(blob, detect_compression(blob, where), where)
    if not elf.startswith(ELF_MAGIC):
        raise ParseError(where, "decompressed payload is not an ELF file")
    return elf


def write_vmlinux(bzimage: Path, dest: Path) -> Path:
    """Extract the vmlinux of ``bzimage`` to ``dest`` (atomically) and return ``dest``."""
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(extract_vmlinux(bzimage))
    tmp.replace(dest)
    return dest
