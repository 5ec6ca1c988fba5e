"""The provider contract: limits as data, batch -> request, response -> per-lead outcomes.

Shared code (``tasks/delivery/``) does batching, retries, rate limits, splitting and recording;
a provider only knows its API.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, SecretStr

from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.outcomes import Outcome
from schemas.provider_rules import ProviderRules
from tasks.http import CallPolicy, classify_status, send_patiently, short_body
from tasks.providers.errors import AmbiguousDeliveryError

PhoneFormat = Literal["e164", "digits", "national"]

#: Columns of the frame ``parse_response`` and ``reconcile`` return.
RESULT_COLUMNS = (C.ROW, C.OUTCOME, C.REASON)
#: Columns of the frame ``read_dispositions`` returns (one row per lead the dialer has; ``passes`` and
#: ``disposition_at``, an aware UTC time or NaT, may be missing).
DISPOSITION_COLUMNS = ("external_id", "state", "disposition", "passes", "disposition_at")
#: Outcome ``parse_response`` gives a lead whose fate the answer leaves open: it is sent again.
UNSETTLED = "sending"


@dataclass(frozen=True)
class RateWindow:
    """At most ``max_requests`` requests in any ``seconds`` window."""

    max_requests: int
    seconds: float


@dataclass(frozen=True)
class ProviderLimits:
    """What a provider allows, declared as data."""

    #: Hard maximum of leads in one request (documented).
    max_batch_size: int
    #: Leads per request unless the run says otherwise.
    default_batch_size: int
    #: Sliding windows enforced per account, all at once.
    rate_windows: tuple[RateWindow, ...] = ()
    #: Seconds from the end of one request to the start of the next (per campaign).
    min_spacing_s: float = 0.0
    #: Requests in flight at once per campaign.
    max_in_flight: int = 4
    #: How the primary phone is written in requests.
    phone_format: PhoneFormat = "e164"
    #: Whether one request can accept some leads and reject others.
    partial_success: bool = True
    #: Whether the dialer itself keeps leads inside their calling windows.
    enforces_calling_windows: bool = False
    #: Statuses that mean "busy, try again" besides 429 and 5xx.
    extra_retry_statuses: frozenset[int] = field(default_factory=frozenset)
    #: Sliding windows of other calls, by operation (``lookup``, ``read``), enforced per account.
    call_windows: dict[str, tuple[RateWindow, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResendRule:
    """What the dialer's answer means for leads sent again after a request that went unanswered.

    Such leads may have been stored by that request. A provider that can look leads up
    (``reconcile``) sends again only those two look-ups missed, so its answers mean what they
    always mean (the default). A provider that cannot (Voiso), or that finds only some leads
    (NLPearl: those without an external id), relies on the dialer's own duplicate check: an
    "already there" answer (``duplicate``) to a lead sent again means the unanswered request
    stored it, and the lead is ``loaded`` with the reason ``duplicate_is_loaded``.
    """

    #: Reason of a lead sent again that the dialer answers ``duplicate``; None: it stays ``duplicate``.
    duplicate_is_loaded: str | None = None

    def settle(self, results: pd.DataFrame) -> pd.DataFrame:
        """``parse_response``'s results for a request that sent leads again, read under this rule."""
        if self.duplicate_is_loaded is None:
            return results
        again = results[C.OUTCOME] == Outcome.DUPLICATE
        if not again.any():
            return results
        out = results.copy()
        out.loc[again, C.OUTCOME] = Outcome.LOADED
        out.loc[again, C.REASON] = self.duplicate_is_loaded
        return out


class Credentials(BaseModel):
    """Secrets for one provider; only ``tasks.credentials`` and ``auth()`` unwrap them."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, SecretStr]

    def get(self, name: str) -> str | None:
        """The secret value, for building auth headers only."""
        value = self.values.get(name)
        return value.get_secret_value() if value is not None else None

    def secret_values(self) -> list[str]:
        """Every secret value, so output can be scanned and masked."""
        return [v.get_secret_value() for v in self.values.values()]


class Provider(ABC):
    """One dialer API."""

    #: Registry name, e.g. ``engage-voice``.
    name: ClassVar[str]
    limits: ClassVar[ProviderLimits]
    #: Environment variable holding the base URL, and the production default.
    base_url_env: ClassVar[str]
    default_base_url: ClassVar[str]
    #: Environment variables of the credentials, by credential name.
    credential_env: ClassVar[dict[str, str]]
    #: Provider-specific run options (``LoadOptions.provider_options``).
    options_model: ClassVar[type[BaseModel]]
    #: What the provider needs of a lead beyond the lead schema, checked before sending.
    field_rules: ClassVar[ProviderRules]
    #: What an answer means for leads sent again after an unanswered request.
    resend: ClassVar[ResendRule]
    #: The app factory of its simulator (``module:function``) and the port ``leadflow simulate`` gives it.
    simulator: ClassVar[str | None] = None
    simulator_port: ClassVar[int] = 0
    #: Default disposition mapping (``schemas.dispositions``): ``{"state": {...}, "disposition": {...}}``;
    #: empty when the provider documents no way to read what the dialer did with a lead.
    disposition_map: ClassVar[dict[str, dict[str, str]]] = {}
    #: Hosts of the real API: exact names, or ``*.suffix`` patterns (others need LEADFLOW_ALLOWED_HOSTS).
    known_hosts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, client: httpx.Client, credentials: Credentials, campaign: str,
                 account: str | None = None, options: BaseModel | None = None,
                 verify_tls: bool = True) -> None:
        self.client = client
        self.verify_tls = verify_tls
        #: Set when the provider refused the credentials mid-run: no further batch is sent.
        self.refused: Exception | None = None
        self.credentials = credentials
        self.campaign = campaign
        self.account = account
        self.options: Any = options if options is not None else self.options_model()
        #: How calls other than loads are retried and rate limited (the load flow sets the limiter).
        self.calls = CallPolicy(extra_retry=self.limits.extra_retry_statuses)
        path_id(campaign, "campaign")
        if account not in (None, "", "~"):
            path_id(str(account), "account")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(campaign={self.campaign!r}, account={self.account!r})"

    @classmethod
    def what_to_check(cls) -> str:
        """The variables behind a refused call, for the one line a user reads."""
        return f"check {' / '.join(cls.credential_env.values())} and {cls.base_url_env}"

    @classmethod
    @abstractmethod
    def check_credentials(cls, credentials: Credentials) -> None:
        """Raise ``ConfigurationError`` naming the missing variables when credentials are incomplete."""

    @abstractmethod
    def auth(self) -> httpx.Auth | None:
        """The auth hook for the client (built once)."""

    @abstractmethod
    def build_request(self, batch: pd.DataFrame) -> httpx.Request:
        """The request that loads ``batch`` (canonical leads with ``phone_key``)."""

    @abstractmethod
    def parse_response(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        """Per-lead outcomes (``row``, ``outcome``, ``reason``) from a 2xx answer.

        The answer is read as for a first send; for leads sent again after an unanswered
        request the delivery code then applies the class's ``resend`` rule.

        Raises:
            ProviderError: for answers that are not a per-lead verdict.
        """

    def classify(self, response: httpx.Response) -> None:
        """Raise the right ``ProviderError`` for an answer that is not a per-lead verdict.

        The default passes only 2xx answers on to ``parse_response``; override to let a
        provider read per-lead errors out of a non-2xx answer (NLPearl's partial 400).
        """
        classify_status(response, extra_retry=self.limits.extra_retry_statuses)

    def call(self, request: httpx.Request, operation: str = "read") -> httpx.Response:
        """Send a call that is not a lead load (a look-up, a read) under ``self.calls``: rate limited,
        retried with backoff while throttled, failing or unanswered; the caller classifies the answer."""
        return send_patiently(self.client, request, self.calls, operation)

    def prepare(self) -> None:
        """Resolve anything needed before the first batch (tokens, account ids)."""

    def reconcile(self, recorded: pd.DataFrame) -> pd.DataFrame | None:
        """Which recorded leads (``row``, ``phone_key``, ``external_id``) already landed.

        Returns a frame with ``row`` and ``found`` (bool), or None when the provider cannot
        look leads up (the caller then relies on the provider's own duplicate handling).
        """
        return None

    def read_dispositions(self, external_ids: list[str]) -> pd.DataFrame:
        """What the dialer knows of the leads with these external ids (``DISPOSITION_COLUMNS``; leads it
        does not have are left out), read in bulk under the provider's limits.

        Raises:
            ConfigurationError: the provider documents no way to read it (``disposition_map`` is empty).
        """
        raise ConfigurationError(unsupported_dispositions(self.name))

    @abstractmethod
    def list_campaigns(self) -> list[dict[str, Any]]:
        """Campaigns (or pearls) this account can load into (``leadflow campaigns``)."""

    @property
    def rate_key(self) -> str:
        """Key of the account-wide rate limit."""
        return f"{self.name}:{self.account or '-'}"

    @property
    def campaign_key(self) -> str:
        """Key of the per-campaign spacing and in-flight limit."""
        return f"{self.name}:{self.account or '-'}:{self.campaign}"


def unsupported_dispositions(name: str) -> str:
    """The one line saying a provider has no documented way to read dispositions."""
    return (f"{name} documents no way to read what its dialer did with a lead (no lead look-up, status or "
            "disposition API in its documents); there is nothing to sync")


def disposition_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``DISPOSITION_COLUMNS`` of ``rows`` (dicts with those keys), one row per external id (the last wins)."""
    frame = pd.DataFrame(rows, columns=list(DISPOSITION_COLUMNS))
    frame["external_id"] = frame["external_id"].astype("string")
    for col in ("state", "disposition"):
        frame[col] = frame[col].astype("string")
    frame["passes"] = pd.to_numeric(frame["passes"], errors="coerce").astype("Int64")
    frame["disposition_at"] = pd.to_datetime(frame["disposition_at"], utc=True, errors="coerce", format="ISO8601")
    return frame.drop_duplicates("external_id", keep="last").reset_index(drop=True)


#: What an id may look like where it goes into a URL path (no ``/``, ``.``, ``%``, ``#``, ``?``).
PATH_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def path_id(value: object, what: str) -> str:
    """``value`` percent-encoded for a URL path segment, once it is checked to be a plain id.

    Raises:
        ConfigurationError: the id holds anything but letters, digits, ``_`` and ``-``.
    """
    text = str(value)
    if not PATH_ID.fullmatch(text):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ConfigurationError(f"invalid {what} id {shown!r}: only letters, digits, '_' and '-' are allowed")
    return quote(text, safe="")


def documented_json(provider: str, response: httpx.Response, what: str,
                    valid: Callable[[Any], bool]) -> Any:
    """The JSON body of a 2xx answer, if it has the documented shape ``valid`` checks.

    Raises:
        AmbiguousDeliveryError: the body is not JSON (HTML, cut off, empty) or not that shape
            (``null``, ``{}`` without the documented counts): the answer says nothing about the
            leads, which may have landed; they are looked up before anything is sent again.
    """
    try:
        body = response.json()
    except ValueError:
        body = _NOT_JSON
    if body is _NOT_JSON or not valid(body):
        raise AmbiguousDeliveryError(
            f"{provider} answered {response.status_code} without {what} (delivery unknown): "
            f"{short_body(response, 120) or '<empty body>'}", status=response.status_code)
    return body


_NOT_JSON = object()


def result_frame(batch: pd.DataFrame, outcome: pd.Series | str, reason: pd.Series | str | None) -> pd.DataFrame:
    """A result frame for ``batch`` with the given outcome(s) and reason(s)."""
    out = pd.DataFrame({C.ROW: batch[C.ROW].to_numpy()})
    out[C.OUTCOME] = outcome if isinstance(outcome, str) else outcome.to_numpy()
    out[C.REASON] = reason if not isinstance(reason, pd.Series) else reason.to_numpy()
    out[C.REASON] = out[C.REASON].astype("string")
    return out
