"""Test-suite wide settings."""
from __future__ import annotations

from hypothesis import settings

# Property tests check behaviour, not speed (speed is for the benchmarks in scripts/): no
# per-example deadline, so a loaded CI machine cannot turn them flaky.
settings.register_profile("memhp", deadline=None)
settings.load_profile("memhp")
