"""Hypothesis profiles, and the number of examples a property test tries under each.

``HYPOTHESIS_PROFILE`` picks one (``.ci/run`` sets "ci"); without it, ``CI`` set (as CI services do)
means "ci", else "dev". Neither judges an example by its speed (a busy 2-core machine, two test
workers), so neither has a deadline or the too-slow health check.

- **ci**: every property test tries its full ``max_examples``; the same examples on every run
  (derandomized), so a CI failure reproduces, with the blob that replays it printed.
- **dev**: a quarter of those examples (at least 10), new ones on every run, and the failures of
  earlier runs (kept in ``.hypothesis/``) replayed first: the edit-test loop stays quick, and
  repeated runs still reach new inputs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
#: The dev profile tries one example in DEV_SHARE of those the ci profile tries.
DEV_SHARE = 4
#: Hypothesis's own default ``max_examples``, for tests that do not set one.
DEFAULT_EXAMPLES = 100


def examples(ci: int) -> int:
    """``max_examples`` of a property test that tries ``ci`` examples under the ci profile."""
    return ci if PROFILE != "dev" else max(10, ci // DEV_SHARE)


def load_profile() -> None:
    """Register both profiles and load the one chosen by the environment."""
    not_timed = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile("dev", max_examples=examples(DEFAULT_EXAMPLES), **not_timed)
    settings.register_profile("ci", derandomize=True, print_blob=True, max_examples=DEFAULT_EXAMPLES, **not_timed)
    settings.load_profile(PROFILE)
