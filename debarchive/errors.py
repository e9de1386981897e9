"""The archive client's errors, both under ``InfrastructureError`` (exit 125: could not test).

``VerificationError`` names the file whose signature, checksum or size is wrong; nothing
from it was cached. ``ArchiveUnreachable`` is a network failure: callers that have
something cached use it and say so.
"""
from __future__ import annotations

from harness.errors import InfrastructureError


class VerificationError(InfrastructureError):
    """A downloaded file failed its signature, checksum or size check."""


class ArchiveUnreachable(InfrastructureError):
    """The archive could not be reached (no network, refused, timed out)."""


class NotInArchive(InfrastructureError):
    """The archive answered but lacks the file (e.g. a package superseded since the index)."""
