"""Small helpers shared by several rooms (atomic files, timing statistics)."""
