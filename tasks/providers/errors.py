"""Provider errors, classified once.

    ProviderError
    ├── RetriableProviderError     429, 5xx, timeouts, connection errors, "busy" answers (Voiso 409)
    │   └── AmbiguousDeliveryError delivery unknown: the request went out and no readable answer came
    │                              back (timeout, reset after send, 500/502/504, a 2xx body not of the
    │                              documented shape); settled by a look-up, never by a guess
    └── FatalProviderError         any other 4xx: retrying cannot help
        ├── AuthError              401/403: bad or expired credentials, missing scope
        └── BatchRefusedError      the whole batch was refused for its content (400/422): split it
"""

from __future__ import annotations


class ProviderError(Exception):
    """A provider call failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetriableProviderError(ProviderError):
    """A transient failure: the same request may succeed later."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class AmbiguousDeliveryError(RetriableProviderError):
    """Delivery unknown: the request went out but no answer we can read came back, so the leads
    may or may not have landed (see docs/delivery.md)."""


class FatalProviderError(ProviderError):
    """A failure that retrying will not fix."""


class AuthError(FatalProviderError):
    """Credentials missing, wrong, expired beyond refresh, or lacking permission."""


class BatchRefusedError(FatalProviderError):
    """The provider refused the whole batch because of its content."""
