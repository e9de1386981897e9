"""Reading a .deb's data archive, and unpacking it so that nothing lands outside ``dest``.

``dpkg-deb --fsys-tarfile`` does the .deb format (ar, and any of its compressors); the
tar stream is read here member by member, so every name that reaches the disk is one
this module checked: no absolute or climbing paths, no writing through a symlink, no
device nodes, no setuid bits.
"""
from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from harness.errors import InfrastructureError


def stream_deb(deb: Path, on_member: Callable[[tarfile.TarInfo, Callable[[], bytes]], None]) -> None:
    """Call ``on_member(member, read)`` for each member of ``deb``'s data archive, in order.

    ``read()`` gives the member's bytes; nothing is written by this function, so the
    caller chooses every name that reaches the disk.
    """
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                on_member(member, lambda m=member: tar.extractfile(m).read())  # type: ignore[union-attr,misc]
    except tarfile.TarError as err:
        raise InfrastructureError(f"{deb}: data archive unreadable: {err}") from err
    finally:
        proc.stdout.close()
        errors = proc.stderr.read().decode("utf-8", "replace")
        proc.wait()
    if proc.returncode != 0:
        raise InfrastructureError(f"dpkg-deb --fsys-tarfile {deb} exited {proc.returncode}: {errors}")


def member_path(name: str) -> PurePosixPath | None:
    """A member's name as a relative path; None for the root (``./``); ``ValueError`` if it
    is absolute or climbs out."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(name)
    parts = [p for p in path.parts if p != "."]
    return PurePosixPath(*parts) if parts else None


def _inside(root: Path, path: Path) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == str(root)


class _Extractor:
    """Writes members under ``dest`` one at a time; ``where`` names the archive in errors."""

    def __init__(self, dest: Path, where: str) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.dest, self.where = dest, where
        self.root = Path(os.path.realpath(dest))

    def take(self, member: tarfile.TarInfo, read: Callable[[], bytes]) -> None:
        root, where, dest = self.root, self.where, self.dest
        try:
            rel = member_path(member.name)
        except ValueError:
            raise InfrastructureError(f"{where}: member {member.name!r} would land outside {dest}") from None
        if rel is None:
            return
        target = root / rel
        if not _inside(root, target.parent):
            raise InfrastructureError(f"{where}: member {member.name!r} would be written through a symlink "
                                      f"out of {dest}")
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
        elif member.isfile():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read())
            target.chmod(member.mode & 0o755)
        elif member.issym():
            link = PurePosixPath(member.linkname)
            pointed = root / link.relative_to("/") if link.is_absolute() else target.parent / link
            if os.path.commonpath([root, os.path.normpath(pointed)]) != str(root):
                raise InfrastructureError(f"{where}: symlink {member.name!r} -> {member.linkname!r} "
                                          f"points out of {dest}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.path.relpath(os.path.normpath(pointed), target.parent))
        elif member.islnk():
            try:
                source = root / (member_path(member.linkname) or PurePosixPath("."))
            except ValueError:
                source = root.parent  # outside: refused just below
            if not _inside(root, source) or not source.is_file():
                raise InfrastructureError(f"{where}: hard link {member.name!r} -> {member.linkname!r} "
                                          f"is not a file inside {dest}")
            shutil.copy2(source, target)
        # device nodes, fifos: nothing memhp needs from a package, and unsafe to create


def unpack(deb: Path, dest: Path) -> None:
    """Unpack ``deb``'s files under ``dest`` (created if need be).

    Absolute symlinks are made relative to ``dest`` (``/usr/lib/x`` → ``dest/usr/lib/x``),
    so the unpacked tree is whole by itself; a relative one that would point above ``dest``
    is an ``InfrastructureError`` naming the member, as is any name that climbs out.
    """
    stream_deb(deb, _Extractor(dest, str(deb)).take)


def unpack_tar(tarball: Path, dest: Path) -> None:
    """Unpack a (compressed) tar file under ``dest`` by ``unpack``'s rules (e.g. the kernel
    source tarball inside ``linux-source-SERIES``)."""
    extractor = _Extractor(dest, str(tarball))
    try:
        with tarfile.open(tarball, mode="r|*") as tar:
            for member in tar:
                extractor.take(member, lambda m=member: tar.extractfile(m).read())  # type: ignore[union-attr,misc]
    except (tarfile.TarError, EOFError, lzma.LZMAError) as err:
        raise InfrastructureError(f"{tarball}: unreadable tar archive: {err}") from err
