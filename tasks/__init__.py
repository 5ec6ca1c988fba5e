"""Tasks: one job each, I/O at the edges."""
