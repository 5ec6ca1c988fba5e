"""The simulators fixture of the disposition tests."""

from disphelp import sims

__all__ = ["sims"]
