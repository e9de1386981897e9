"""Matrix reports: HTML (with memory maps) and JUnit XML."""
