"""A run's folder as a whole: made private, and a failed write into it by any layer is
could-not-test (the files in it are harness.run.artifacts' job)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from harness.errors import BadInputError, GuestError, InfrastructureError
from harness.paths import HOST_FULL, ArtifactWriteError, check_room, private_dir


def ensure_out_dir(path: Path) -> Path:
    """The artifact folder, created if need be; a path that cannot be one is bad input."""
    try:
        private_dir(path)
    except FileExistsError:
        raise BadInputError(f"{path}: exists and is not a folder (the run's artifact folder)") from None
    except OSError as err:
        if err.errno in HOST_FULL:
            raise ArtifactWriteError.of(path, err) from None
        raise BadInputError(f"{path}: cannot create the artifact folder: {err.strerror}") from None
    return path


@contextlib.contextmanager
def artifact_writes(out_dir: Path, console: str | None = None) -> Iterator[None]:
    """Turn a failed write into ``out_dir`` by any layer below into :class:`ArtifactWriteError`;
    other OSErrors are not artifacts'.  ``console``: a file QEMU writes there.  A disk that
    filled while QEMU wrote it is the reason whatever else the run then saw (a boot that
    never showed, a lost agent): memhp's own writes name their file, QEMU's are lost
    without a word."""
    try:
        yield
    except OSError as err:
        name = err.filename if isinstance(err.filename, str) else None
        if name is None or not Path(name).resolve().is_relative_to(out_dir.resolve()):
            raise
        raise ArtifactWriteError.of(Path(name), err) from err
    except ArtifactWriteError:
        raise
    except (GuestError, InfrastructureError):
        if console:
            check_room(out_dir, console)
        raise
    if console:
        check_room(out_dir, console)
