"""pytest plugin: fixtures that boot memhp scenarios (filled in by the harness)."""
