"""memhp: a QEMU-driven verifier for Linux memory hotplug."""
