"""The outcomes a lead can end with: exactly one per input row."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """Final state of one input row."""

    LOADED = "loaded"  #: accepted by the provider
    INVALID = "invalid"  #: failed the schema or the phone rules; reason says which column
    DUPLICATE = "duplicate"  #: same phone earlier in the run, or already loaded (ledger)
    SUPPRESSED = "suppressed"  #: on a do-not-call list; never leaves the machine
    DEFERRED = "deferred"  #: outside its calling window; kept in the ledger for a later run
    REJECTED = "rejected"  #: the provider refused it, with the provider's reason
    FAILED = "failed"  #: not delivered after retries; retried by the next run


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
