"""A run's folder as a whole: a failed write into it by any layer is could-not-test."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from harness.errors import GuestError, InfrastructureError
from harness.paths import ArtifactWriteError, check_room


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
