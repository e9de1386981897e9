"""QEMU: the machine process, its console, QMP, accelerators, devices and command line."""
