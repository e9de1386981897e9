"""Pydantic field types shared by the scenario schema's modules: sizes, memory blocks, the
strict base (the customer's machine is the field_*.py modules' job, not this one's)."""
from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict

from harness.units import parse_size


def _size(value: Any) -> int:
    try:
        return parse_size(value)
    except (TypeError, ValueError) as err:
        raise ValueError(str(err)) from None


Size = Annotated[int, BeforeValidator(_size)]

# x86-64 memory block size (arch/x86/mm/init_64.c MIN_MEMORY_BLOCK_SIZE): RAM and DIMMs that
# are not whole blocks cannot be hot-removed as the scenario means, so refuse them early.
MEMORY_BLOCK_SIZE = 128 << 20


def _whole_blocks(value: int) -> int:
    if value <= 0 or value % MEMORY_BLOCK_SIZE:
        raise ValueError(f"{value:#x} is not a positive multiple of the 128 MiB memory block size")
    return value


BlockSize = Annotated[int, BeforeValidator(_size), pydantic.AfterValidator(_whole_blocks)]


def _no_or_whole_blocks(value: int) -> int:
    return value if value == 0 else _whole_blocks(value)


# A node's boot RAM: 0 makes it memoryless (CPUs, and DIMMs, only).
NodeSize = Annotated[int, BeforeValidator(_size), pydantic.AfterValidator(_no_or_whole_blocks)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
