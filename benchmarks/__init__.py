"""Reproducible lead data and performance runs."""
