"""ACPI SRAT/SLIT encoding and decoding, iasl, and the initrd table-override archive."""
