"""Orchestration: the flows and the command line."""
