"""User files for the initramfs: what each ``GuestFile`` puts where, with which mode."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError
from harness.scenario.guest_files import GuestFile


@dataclass(frozen=True)
class FileEntry:
    dest: str  # absolute path in the guest
    mode: int
    data: bytes

    def digest(self) -> bytes:
        return hashlib.sha256(f"{self.dest}\0{self.mode:o}\0".encode() + self.data).digest()

    def write_under(self, root: Path) -> None:
        path = root / self.dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data)
        os.chmod(path, self.mode)


def _read(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except OSError as err:
        raise BadInputError(f"files: cannot read {source}: {err}") from err


def _entries(spec: GuestFile) -> list[FileEntry]:
    source = spec.source
    if source.is_file():
        mode = spec.mode if spec.mode is not None else source.stat().st_mode & 0o7777
        return [FileEntry(spec.dest, mode, _read(source))]
    out = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        mode = spec.mode if spec.mode is not None else path.stat().st_mode & 0o7777
        out.append(FileEntry(f"{spec.dest}/{path.relative_to(source).as_posix()}", mode, _read(path)))
    return out


def collect(files: Sequence[GuestFile], more: Sequence[FileEntry] = ()) -> tuple[FileEntry, ...]:
    """Every file to add (``more``: memhp's own, e.g. a selftest's), sorted by guest
    path; one guest path named twice is bad input."""
    entries = [e for spec in files for e in _entries(spec)] + list(more)
    seen: dict[str, FileEntry] = {}
    for entry in entries:
        if entry.dest in seen:
            raise BadInputError(f"files: {entry.dest} is given twice")
        seen[entry.dest] = entry
    return tuple(sorted(entries, key=lambda e: e.dest))
