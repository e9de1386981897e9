"""The kernel source trees the engine tests build from."""
from __future__ import annotations

import importlib
from pathlib import Path

from harness.memblock.kernel_engine.build import debian_tree


def source_tree(series: str) -> Path:
    """``kernels.source.source_tree(series)``: Debian's linux-source-SERIES, fetched and verified.

    That function is the archive helper's (issue 23); until the lead merges it, this
    branch reads the trees debian_tree() finds.
    """
    try:
        module = importlib.import_module("kernels.source")
    except ModuleNotFoundError:
        return debian_tree(series)
    tree: Path = module.source_tree(series)
    return tree
