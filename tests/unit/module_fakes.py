"""Minimal ELF kernel modules for tests: an ELF64 header and a ``.modinfo`` section,
which is all ``kernels.modules`` reads (pyelftools parses them as it parses a real .ko)."""
from __future__ import annotations

import struct


def fake_module(name: str, depends: str = "", vermagic: str = "6.1.0-99-amd64 SMP mod_unload") -> bytes:
    modinfo = f"depends={depends}\0name={name}\0vermagic={vermagic}\0".encode()
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    data_off = 64
    shstr_off = data_off + len(modinfo)
    sh_off = (shstr_off + len(shstrtab) + 7) & ~7
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, sh_off, 0, 64, 0, 0, 64, 3, 2)
    body = header + modinfo + shstrtab
    body += bytes(sh_off - len(body))
    section = "<IIQQQQIIQQ"
    body += struct.pack(section, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    body += struct.pack(section, 1, 1, 2, 0, data_off, len(modinfo), 0, 0, 1, 0)
    body += struct.pack(section, 10, 3, 0, 0, shstr_off, len(shstrtab), 0, 0, 1, 0)
    return body
