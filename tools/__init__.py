"""Developer tools run from a checkout (``.venv/bin/python -m tools.<name>``): they write the
golden files and the package data the runtime reads.  Not installed: the wheel ships only
what memhp runs, and nothing in it imports these."""
