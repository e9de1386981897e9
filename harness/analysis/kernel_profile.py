"""Which kernel profile a boot log, a spec or a release uses (kernels.profile asks nothing else)."""
from __future__ import annotations

from harness.errors import BadInputError
from harness.logparse import BootLog
from kernels.config import KernelConfig
from kernels.profile import ProfileChoice, parse_series, profile_for


def profile_of_release(release: str, where: str, config: KernelConfig | None = None) -> ProfileChoice:
    """``where``: what to name in the one-line error (a log, an option)."""
    try:
        return profile_for(release, config)
    except ValueError as err:
        raise BadInputError(f"{where}: {err}") from err


def profile_of_log(log: BootLog, config: KernelConfig | None = None) -> ProfileChoice:
    """The profile of the kernel that printed ``log`` (its ``Linux version`` line)."""
    if not log.kernel_release:
        raise BadInputError(f"{log.source}: no 'Linux version' line: which kernel printed it is unknown")
    return profile_of_release(log.kernel_release, log.source, config)


def profile_of_spec(text: str) -> ProfileChoice:
    """``debian:6.1``, ``6.12``, ``7.3.4+deb13-amd64``: the series or release after any ``debian:``."""
    return profile_of_release(text.split(":", 1)[-1], f"kernel {text!r}")


def source_series(choice: ProfileChoice) -> str:
    """``MAJOR.MINOR`` of the release itself: the kernel engine builds that series' own
    mm/memblock.c, not the profile row's."""
    major, minor = parse_series(choice.release)
    return f"{major}.{minor}"
