"""``[[files]]``: host files or folders to put into the guest's initramfs, with modes.

``source`` is relative to the scenario file that names it (``extends`` included); a folder
goes in whole, each file keeping its own mode unless ``mode`` is given.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from harness.scenario.fields import Strict

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
        if not source.exists():
            raise ValueError(f"no such file or folder: {source}")
        return source

    @field_validator("dest")
    @classmethod
    def _not_reserved(cls, dest: str) -> str:
        if any(part in (".", "..") for part in dest.split("/")):
            raise ValueError(f"{dest}: no . or .. in a guest path")
        if dest in RESERVED or dest.startswith("/bin/") or dest.startswith("/sbin/"):
            raise ValueError(f"{dest}: memhp's own image uses this path")
        return dest


def resolve_sources(data: dict[str, object], folder: Path) -> None:
    """Make each ``files[].source`` absolute against the declaring file's folder."""
    files = data.get("files")
    if not isinstance(files, list):
        return
    for entry in files:
        if isinstance(entry, dict) and isinstance(entry.get("source"), str):
            entry["source"] = str((folder / entry["source"]).resolve())
