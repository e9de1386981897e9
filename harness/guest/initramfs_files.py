"""User files for the initramfs: what each ``GuestFile`` puts where, with which mode."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError
from harness.scenario.guest_files import GuestFile
from harness.userinput import GUEST_FILE, read_bytes


@dataclass(frozen=True)
class FileEntry:
    dest: str  # absolute path in the guest
    mode: int
    data: bytes

    def digest(self) -> bytes:
        return hashlib.sha256(f"{self.dest}\0{self.mode:o}\0".encode() + self.data).digest()

    def write_under(self, root: Path) -> None:
        """The one place a guest path becomes a host path: one that cannot be made there
        (a file where a folder must be, e.g. under memhp's own files) is bad input."""
        path = root / self.dest.lstrip("/")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.data)
            os.chmod(path, self.mode)
        except OSError as err:
            raise BadInputError(f"files: {self.dest}: cannot be placed in the image: "
                                f"{err.strerror}") from None


def _mode(spec: GuestFile, info: os.stat_result) -> int:
    return spec.mode if spec.mode is not None else info.st_mode & 0o7777


def _entries(spec: GuestFile) -> list[FileEntry]:
    """A file, or every file of a folder; anything else in it (a FIFO, a device, a broken
    or looping symlink, a symlinked folder) is bad input, never silently left out."""
    source = spec.source
    if not source.is_dir():
        return [FileEntry(spec.dest, _mode(spec, source.stat()), read_bytes(source, GUEST_FILE))]
    out = []
    for folder, dirs, names in os.walk(source, onerror=_walk_error):
        for sub in dirs:
            if os.path.islink(os.path.join(folder, sub)):
                raise BadInputError(f"{os.path.join(folder, sub)}: a symlinked folder in a "
                                    "[[files]] source is not followed; copy it or name it")
        for leaf in names:
            path = Path(folder, leaf)
            data = read_bytes(path, GUEST_FILE)  # refuses what is not a regular file
            out.append(FileEntry(f"{spec.dest}/{path.relative_to(source).as_posix()}",
                                 _mode(spec, path.stat()), data))
    return sorted(out, key=lambda e: e.dest)


def _walk_error(err: OSError) -> None:
    raise BadInputError(f"{err.filename}: cannot read the folder ({err.strerror}) "
                        "(a [[files]] source)")


def collect(files: Sequence[GuestFile], more: Sequence[FileEntry] = ()) -> tuple[FileEntry, ...]:
    """Every file to add (``more``: memhp's own, e.g. a selftest's), sorted by guest
    path; one guest path named twice is bad input."""
    entries = [e for spec in files for e in _entries(spec)] + list(more)
    seen: dict[str, FileEntry] = {}
    for entry in entries:
        if entry.dest in seen:
            raise BadInputError(f"files: {entry.dest} is given twice")
        seen[entry.dest] = entry
    for dest in seen:  # a file cannot also be a folder of another file
        parent = dest.rsplit("/", 1)[0]
        while parent:
            if parent in seen:
                raise BadInputError(f"files: {parent} is a file and also holds {dest}")
            parent = parent.rsplit("/", 1)[0]
    return tuple(sorted(entries, key=lambda e: e.dest))
