"""bzImage setup header and payload decompression, synthetic and on Debian's 6.1 vmlinuz
(the one scripts/setup fetches into memhp's kernel cache)."""
from __future__ import annotations

import bz2
import gzip
import lzma
import re
import struct
from collections.abc import Callable
from pathlib import Path

import lz4.block
import pytest
import zstandard

import kernels
from harness.errors import ParseError
from kernels import bzimage
from kernels.bzimage import Compression
from kernels.kernel import Kernel

FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 64


def _lz4_legacy(raw: bytes) -> bytes:
    block = lz4.block.compress(raw, store_size=False)
    return b"\x02\x21\x4c\x18" + struct.pack("<I", len(block)) + block


COMPRESSORS: dict[Compression, Callable[[bytes], bytes]] = {
    # mtime=0: the same image every time, not one per second (test_kernels_cache compares hashes)
    Compression.GZIP: lambda raw: gzip.compress(raw, mtime=0),
    Compression.XZ: lambda raw: lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    Compression.LZMA: lambda raw: lzma.compress(raw, format=lzma.FORMAT_ALONE),
    Compression.BZIP2: bz2.compress,
    Compression.ZSTD: lambda raw: zstandard.ZstdCompressor().compress(raw),
    Compression.LZ4: _lz4_legacy,
}


def make_bzimage(release: str, raw: bytes = FAKE_ELF, kind: Compression = Compression.GZIP) -> bytes:
    """A minimal bzImage: one setup sector, kernel_version at 0x300, payload after 16 bytes."""
    blob = COMPRESSORS[kind](raw) + struct.pack("<I", len(raw))  # size trailer, as size_append
    image = bytearray(1024)
    image[0x1F1] = 1
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", image, 0x206, 0x20F)
    struct.pack_into("<H", image, 0x20E, 0x100)
    version = f"{release} (builder@host) #1 SMP".encode() + b"\x00"
    image[0x300:0x300 + len(version)] = version
    struct.pack_into("<II", image, 0x248, 16, len(blob))
    return bytes(image) + bytes(16) + blob


@pytest.mark.parametrize("kind", list(COMPRESSORS))
def test_every_kernel_compressor_round_trips(tmp_path: Path, kind: Compression) -> None:
    path = tmp_path / "bzImage"
    path.write_bytes(make_bzimage("6.1.0-test", kind=kind))
    assert bzimage.extract_vmlinux(path) == FAKE_ELF


def test_setup_header_fields() -> None:
    header = bzimage.read_setup_header(make_bzimage("6.12.0-x"), "img")
    assert header.release == "6.12.0-x"
    assert header.kernel_version == "6.12.0-x (builder@host) #1 SMP"
    assert header.protected_mode_offset == 1024
    assert header.payload_offset == 16


def test_not_a_bzimage_names_offset(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(bytes(4096))
    with pytest.raises(ParseError, match=r"junk: offset 0x202: no 'HdrS' magic"):
        bzimage.extract_vmlinux(path)


def test_truncated_payload_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bzImage"
    path.write_bytes(make_bzimage("6.1.0-t")[:1100])
    with pytest.raises(ParseError, match="does not fit"):
        bzimage.extract_vmlinux(path)


def test_payload_that_is_not_elf(tmp_path: Path) -> None:
    path = tmp_path / "bzImage"
    path.write_bytes(make_bzimage("6.1.0-t", raw=b"MZ not an elf"))
    with pytest.raises(ParseError, match="not an ELF"):
        bzimage.extract_vmlinux(path)


def test_unknown_compression_magic() -> None:
    with pytest.raises(ParseError, match="no known compression magic"):
        bzimage.detect_compression(b"\x00\x01\x02\x03\x04\x05", "img")


def test_corrupt_stream_is_a_parse_error() -> None:
    blob = bytearray(COMPRESSORS[Compression.XZ](FAKE_ELF))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(ParseError, match="XZ payload does not decompress"):
        bzimage.decompress(bytes(blob), Compression.XZ, "img")


@pytest.fixture(scope="module")
def debian_61() -> Kernel:
    """The Debian 6.1 kernel in memhp's cache (scripts/setup fetched it; fetched if not)."""
    return kernels.resolve("debian:6.1")


def test_debian_61_vmlinuz_is_xz_and_yields_elf(debian_61: Kernel) -> None:
    vmlinuz = debian_61.bzimage
    data = vmlinuz.read_bytes()
    header = bzimage.read_setup_header(data, str(vmlinuz))
    # The release the package is named for, as the cache lists it (not read from this header).
    listed = next(k for k in kernels.list_kernels() if k.bzimage == vmlinuz)
    assert header.release == listed.spec.removeprefix("debian:")
    assert re.fullmatch(r"6\.1\.0-\d+-amd64", header.release)
    blob = bzimage.payload(data, header, str(vmlinuz))
    assert bzimage.detect_compression(blob, str(vmlinuz)) is Compression.XZ
    elf = bzimage.extract_vmlinux(vmlinuz)
    assert elf[:5] == b"\x7fELF\x02"  # ELF64
    assert struct.unpack_from("<H", elf, 18)[0] == 62  # e_machine EM_X86_64
