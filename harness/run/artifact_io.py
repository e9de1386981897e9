"""Writing a run's artifacts: whole or not at all, and a full disk named as the host's
problem (could not test), never as the user's input or a kernel failure."""
from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path

from harness.errors import InfrastructureError

# A folder that cannot take more bytes is the host's problem, never the user's input.
HOST_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


class ArtifactWriteError(InfrastructureError):
    """An artifact could not be written (a full disk): could not test, exit 125."""

    def __init__(self, paths: tuple[Path, ...], reason: str) -> None:
        super().__init__(f"could not write {', '.join(str(p) for p in paths)}: {reason}")
        self.paths, self.reason = paths, reason

    @classmethod
    def of(cls, path: Path, err: OSError) -> ArtifactWriteError:
        return cls((path,), err.strerror or str(err))


def write_file(path: Path, data: bytes) -> None:
    """Write an artifact whole or not at all: no partial file is left behind on failure."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise ArtifactWriteError.of(path, err) from None


@contextlib.contextmanager
def artifact_writes(out_dir: Path) -> Iterator[None]:
    """Turn a failed write into ``out_dir`` by any layer below (console, transcripts,
    command line) into :class:`ArtifactWriteError`; other OSErrors are not artifacts'."""
    try:
        yield
    except OSError as err:
        name = err.filename if isinstance(err.filename, str) else None
        if name is None or not Path(name).resolve().is_relative_to(out_dir.resolve()):
            raise
        raise ArtifactWriteError.of(Path(name), err) from err
