"""Scenarios: the schema, where QEMU puts their memory, their ACPI tables, field import."""
