"""The memblock model (``struct memblock``), its Python port and the kernel engine."""
