"""Guest-side files (init, agent) packed into the initramfs; data, not Python."""
