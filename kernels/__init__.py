"""Obtaining and inspecting kernels: Debian packages and local builds."""
