"""Where memhp writes: its caches and a run's folder, private, through one write path.

Caches and run folders are created 0700 and a run's files 0600: an initramfs holds the
user's ``[[files]]`` (any file the user can read) and a console may show them, so nothing
memhp writes is readable by other users, wherever ``MEMHP_CACHE`` or ``--out`` points.

Every byte a run writes itself (transcripts, command line, tables, result.json) goes
through :class:`RunFile`, :func:`write_file` or :func:`write_atomic`, which turn a failed
write into :class:`ArtifactWriteError` naming the file: a full or read-only disk is the
host's problem (exit 125), never the user's input or a kernel failure.  What QEMU writes
itself (the console) it cannot report: :func:`check_room` tells a disk that filled.
"""
from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from harness.errors import InfrastructureError

# A folder that cannot take more bytes is the host's problem, never the user's input.
HOST_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


class ArtifactWriteError(InfrastructureError):
    """An artifact could not be written (a full disk): could not test, exit 125."""

    def __init__(self, paths: tuple[Path, ...], reason: str) -> None:
        super().__init__(f"could not write {', '.join(str(p) for p in paths)}: {reason}")
        self.paths, self.reason = paths, reason

    @classmethod
    def of(cls, path: Path, err: OSError) -> ArtifactWriteError:
        return cls((path,), err.strerror or str(err))


def cache_root() -> Path:
    root = os.environ.get("MEMHP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "memhp"


def cache_dir(name: str) -> Path:
    """A cache folder, 0700 even if an older memhp made it 0755 (it is memhp's own)."""
    return private_dir(cache_root() / name, own=True)


def private_dir(path: Path, *, own: bool = False) -> Path:
    """``path`` and the folders above it that memhp creates, 0700 whatever the umask.  A
    folder that exists keeps its mode (``--out .`` must not change the user's folder; the
    files memhp writes there are 0600) unless ``own`` says it is memhp's alone."""
    missing = [p for p in (path, *path.parents) if not os.path.lexists(p)][::-1]
    for folder in missing:
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if folder.is_dir():
                continue  # made meanwhile (a parallel cell): its maker's
            raise
        folder.chmod(PRIVATE_DIR)  # mkdir's mode is masked by the umask
    if not path.is_dir():
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(path))
    if own and path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR)
    return path


class RunFile:
    """A run's file written as it goes (a transcript, a log QEMU's stdout goes to):
    unbuffered, 0600, and a failed write is :class:`ArtifactWriteError` naming it.

    Unbuffered, so no write is left for :meth:`close` to fail on, and what was written
    is on disk if the run dies."""

    def __init__(self, path: Path, *, append: bool = False) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
        try:
            self._fd = os.open(path, flags, PRIVATE_FILE)
        except OSError as err:
            raise ArtifactWriteError.of(path, err) from None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as err:
            raise ArtifactWriteError.of(self.path, err) from None
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered (pexpect calls it after each write)."""

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_file(path: Path, data: bytes) -> None:
    """Write an artifact whole or not at all: no partial file is left behind on failure."""
    try:
        with RunFile(path) as fh:
            fh.write(data)
    except ArtifactWriteError:
        with contextlib.suppress(OSError):  # a read-only disk refuses the unlink too
            path.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` at once: a reader never sees half a file, even after a crash."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write_file(tmp, data)
    except ArtifactWriteError as err:
        raise ArtifactWriteError((path,), err.reason) from None
    try:
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ArtifactWriteError.of(path, err) from None


def check_room(folder: Path, what: str) -> None:
    """Raise :class:`ArtifactWriteError` for ``what`` (a file another process writes into
    ``folder``, e.g. QEMU's console) if the disk under ``folder`` is full: its writes
    were lost without a word."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return  # the folder is gone: whoever removed it reports that
    # f_files is 0 where a filesystem has no inode limit (btrfs): then only blocks count.
    if info.f_bavail == 0 or (info.f_files and info.f_favail == 0):
        raise ArtifactWriteError((folder / what,), os.strerror(errno.ENOSPC))
