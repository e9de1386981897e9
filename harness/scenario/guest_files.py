"""``[[files]]``: host files or folders to put into the guest's initramfs, with modes.

``source`` is relative to the scenario file that names it (``extends`` included); a folder
goes in whole, each file keeping its own mode unless ``mode`` is given.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import Field, field_validator

from harness.scenario.schema_types import Strict

# Linux's limits (include/uapi/linux/limits.h): the image is built on the host's filesystem
# and unpacked into the guest's rootfs, both of which refuse longer names.
NAME_MAX, PATH_MAX = 255, 4096

# What memhp's own image needs: /init, the agent and busybox's applet links stay memhp's.
RESERVED = ("/init", "/agent.sh", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/proc", "/sys",
            "/dev")


class GuestFile(Strict):
    source: Path
    dest: str = Field(pattern=r"^(/[A-Za-z0-9_.+-]+)+$")
    mode: int | None = Field(None, ge=0, le=0o7777)  # TOML: mode = 0o755

    @field_validator("source")
    @classmethod
    def _exists(cls, source: Path) -> Path:
        # Only a regular file or a folder: a FIFO or /dev/null would put nothing (or
        # never end), a symlink loop nothing at all, and nothing would say so.
        try:
            mode = os.stat(source).st_mode
        except FileNotFoundError:
            raise ValueError(f"no such file or folder: {source}") from None
        except OSError as err:
            raise ValueError(f"{source}: {err.strerror}") from None
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ValueError(f"{source}: not a regular file or a folder")
        return source

    @field_validator("dest")
    @classmethod
    def _not_reserved(cls, dest: str) -> str:
        parts = dest.split("/")[1:]
        if any(part in (".", "..") for part in parts):
            raise ValueError(f"{dest}: no . or .. in a guest path")
        if any(len(part.encode()) > NAME_MAX for part in parts) or len(dest) > PATH_MAX:
            raise ValueError(f"{dest[:40]}…: a guest path has parts of at most {NAME_MAX} "
                             f"bytes and at most {PATH_MAX} in all")
        if any(dest == r or dest.startswith(r + "/") for r in RESERVED):
            raise ValueError(f"{dest}: memhp's own image uses this path")
        return dest


def resolve_sources(data: dict[str, object], folder: Path) -> None:
    """Make each ``files[].source`` absolute against the declaring file's folder."""
    files = data.get("files")
    if not isinstance(files, list):
        return
    for entry in files:
        if isinstance(entry, dict) and isinstance(entry.get("source"), str):
            # Not resolve(): a symlink loop is the validator's to name, as bad input.
            entry["source"] = os.path.abspath(folder / entry["source"])
