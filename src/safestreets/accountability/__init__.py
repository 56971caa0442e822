"""Accountability: operations and their results, stop and search, Section 60, disproportionality."""
