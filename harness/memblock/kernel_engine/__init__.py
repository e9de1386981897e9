"""The kernel engine: mm/memblock.c itself, built into a replay driver (see build.py)."""
