"""Voiso API v4 campaign leads: ``POST {cluster}/api/v4/campaigns/{id}/leads``.

The answer lists the phone numbers as sent under ``created``, ``rejected`` and ``duplicates``;
leads are matched back by their digits, so two leads of one batch with the same number get the
same outcome. Voiso has no lead lookup, so ``reconcile`` cannot help: a lead sent again after an
unanswered request and reported as a duplicate counts as loaded.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.outcomes import Outcome
from schemas.provider_rules import FALSE_WORDS, TRUE_WORDS, ProviderRules
from tasks.http import bearer, classify_status, short_body
from tasks.payload import json_records
from tasks.providers.base import Credentials, Provider, ProviderLimits, ResendRule, result_frame
from tasks.providers.errors import AmbiguousDeliveryError, FatalProviderError
from tasks.rules.phones import format_phone

__all__ = ["Voiso", "VoisoOptions"]

#: Placeholder base URL: Voiso has one host per cluster, so VOISO_BASE_URL must be set.
PLACEHOLDER_BASE_URL = "https://your-cluster-id.voiso.com"
API = "/api/v4"
#: Keys Voiso takes in ``context_headers`` (SIP headers; rule from the docs' examples).
HEADER_KEY = re.compile(r"X-[A-Za-z0-9\-_.!~*+]+")
SOURCE_SYSTEM, SOURCE_URL = f"{C.EXTRA_PREFIX}source_system", f"{C.EXTRA_PREFIX}source_url"
#: A lead's own ``active`` (true/false, yes/no, 1/0); blank takes the run's ``active`` option.
ACTIVE = f"{C.EXTRA_PREFIX}active"
#: A 409 body saying the campaign cannot take leads at all (not "import in progress"). Inferred:
#: the v4 document gives no text; "should be live" is the legacy API's, "not live" the simulator's.
NOT_LIVE = re.compile(r"\blive\b", re.IGNORECASE)
#: A 422 body saying the request holds too many leads.
TOO_MANY = re.compile(r"maximum limit|too many leads|too long", re.IGNORECASE)
#: Leads per page of ``GET /campaigns`` (the documented maximum).
PAGE = 100

DUPLICATE = "voiso: already in campaign"
CONFIRMED = "confirmed: already in campaign after an unanswered request"
REJECTED = "voiso: rejected (invalid or not unique)"
MISSING = "voiso: not in the import result"


class VoisoOptions(BaseModel):
    """Options of a Voiso load."""

    model_config = ConfigDict(extra="forbid")

    active: bool = Field(True, description="Whether the leads are to be called (`active`), unless a lead's "
                                           "extra.active says.")
    default_priority: int | None = Field(
        None, ge=1, le=1000, description="Priority of leads without one (1 is called first).")
    source_system: str | None = Field(
        None, description="`source.system` of leads without an extra.source_system value.")


class Voiso(Provider):
    """Voiso dialer campaign (a live Dialer campaign; the id is an integer)."""

    name: ClassVar[str] = "voiso"
    limits: ClassVar[ProviderLimits] = ProviderLimits(
        max_batch_size=1000,
        default_batch_size=1000,
        min_spacing_s=2.0,  # documented: 2 s from the end of one request to the start of the next
        max_in_flight=1,  # documented: no simultaneous Leads calls to the same campaign
        phone_format="digits",
        partial_success=True,
        enforces_calling_windows=False,
        extra_retry_statuses=frozenset({409}),
    )
    known_hosts: ClassVar[tuple[str, ...]] = ("*.voiso.com",)
    base_url_env: ClassVar[str] = "VOISO_BASE_URL"
    default_base_url: ClassVar[str] = PLACEHOLDER_BASE_URL
    credential_env: ClassVar[dict[str, str]] = {"api_key": "VOISO_API_KEY"}
    options_model: ClassVar[type[BaseModel]] = VoisoOptions
    field_rules: ClassVar[ProviderRules] = ProviderRules(
        name="voiso",
        priority_range=(1, 1000),
        header_prefix="X-",
        header_key=r"X-[A-Za-z0-9\-_.!~*+]+",
        extra_max=1000,  # [I] header values
        booleans=(f"{C.EXTRA_PREFIX}active",),  # a lead's own `active`
    )
    #: No look-up: leads of an unanswered request are sent again, and Voiso's duplicate check (by phone,
    #: per campaign, documented) answers for those that had landed.
    resend: ClassVar[ResendRule] = ResendRule(duplicate_is_loaded=CONFIRMED)
    simulator: ClassVar[str | None] = "simulators.voiso:create_app"
    simulator_port: ClassVar[int] = 8703
    options: VoisoOptions

    @classmethod
    def check_credentials(cls, credentials: Credentials) -> None:
        if not credentials.get("api_key"):
            raise ConfigurationError("voiso needs VOISO_API_KEY (a key with the campaigns.manage scope)")

    def auth(self) -> httpx.Auth | None:
        return bearer(self.credentials.get("api_key") or "")

    @property
    def api(self) -> str:
        """Path prefix of the v4 API under the client's base URL.

        Raises:
            ConfigurationError: the base URL is still the placeholder (no cluster host set).
        """
        base = self.client.base_url
        if base.host == httpx.URL(PLACEHOLDER_BASE_URL).host:
            raise ConfigurationError("voiso: set VOISO_BASE_URL to your cluster, https://<cluster_id>.voiso.com")
        return "" if base.path.rstrip("/").endswith(API) else API

    def prepare(self) -> None:
        """Check the base URL, the campaign id, and the key and campaign with one call."""
        self._check_campaign_id()
        response = self.call(self.client.build_request("GET", f"{self.api}/campaigns/{self.campaign}"))
        if response.status_code == 404:
            raise ConfigurationError(f"voiso: no campaign {self.campaign} on this cluster")
        classify_status(response)

    def _check_campaign_id(self) -> None:
        if not str(self.campaign).isdigit():
            raise ConfigurationError(f"voiso campaign ids are integers, got {self.campaign!r}")
        _ = self.api

    def build_request(self, batch: pd.DataFrame) -> httpx.Request:
        self._check_campaign_id()
        leads = self.lead_frame(batch)
        nested = {"source": [c for c in ("system", "url") if c in leads],
                  "context_headers": [c for c in leads.columns if c.startswith("X-")]}
        body = json_records(leads, nested=nested)
        for name, cols in nested.items():
            if cols:
                body = body.replace(f',"{name}":{{}}'.encode(), b"")
        return self.client.build_request("POST", f"{self.api}/campaigns/{self.campaign}/leads", content=body,
                                         headers={"Content-Type": "application/json"})

    def lead_frame(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Lead fields column-wise: phone_number, name, priority, active, then source and headers."""
        out = pd.DataFrame({"phone_number": format_phone(batch[C.PHONE_E164], "digits")}, index=batch.index)
        name = (_text(batch, C.FIRST_NAME).fillna("").str.strip() + " "
                + _text(batch, C.LAST_NAME).fillna("").str.strip()).str.strip()
        out["name"] = name.mask(name == "")
        out["priority"] = self.priority(batch)
        out["active"] = self.active(batch)
        system = _text(batch, SOURCE_SYSTEM)
        if self.options.source_system:
            system = system.fillna(self.options.source_system)
        if system.notna().any():
            out["system"] = system
        if SOURCE_URL in batch:
            out["url"] = batch[SOURCE_URL].astype("string")
        headers = [c for c in C.extra_columns(batch.columns) if c[len(C.EXTRA_PREFIX):].startswith("X-")]
        # Leads with a value under a bad header name were marked invalid before loading
        # (schemas/provider_rules.py); the column itself is left out of the request.
        bad = [c for c in headers if not HEADER_KEY.fullmatch(c[len(C.EXTRA_PREFIX):])]
        if any(batch[c].notna().any() for c in bad):
            raise ConfigurationError(f"voiso: context header names may hold only letters, digits and -_.!~*+: {bad}")
        headers = [c for c in headers if c not in bad]
        for col in headers:
            out[col[len(C.EXTRA_PREFIX):]] = batch[col].astype("string")
        return out

    def active(self, batch: pd.DataFrame) -> pd.Series:
        """``active`` per lead: its ``extra.active`` value where it reads as true or false, else the run's."""
        flag = _text(batch, ACTIVE).str.strip().str.lower()
        own = flag.map(lambda v: True if v in TRUE_WORDS else False if v in FALSE_WORDS else pd.NA,
                       na_action="ignore").astype("boolean")
        return own.fillna(self.options.active)

    def priority(self, batch: pd.DataFrame) -> pd.Series:
        """``priority`` as an integer 1-1000 (numbers rounded and clipped), else the default."""
        default = self.options.default_priority
        if C.PRIORITY not in batch:
            return pd.Series(default, index=batch.index, dtype="Int64")
        value = pd.to_numeric(batch[C.PRIORITY], errors="coerce").round().clip(1, 1000)
        return value.astype("Int64").fillna(default) if default is not None else value.astype("Int64")

    def classify(self, response: httpx.Response) -> None:
        """Raise the right error for a non-2xx answer; 409 and 422 depend on the body.

        Raises:
            FatalProviderError: the campaign is not live (409 or 422 naming "live"), or the batch is too
                long (422: a bug).
            BatchRefusedError: 400 or 422 for the batch's content (split it).
            RetriableProviderError: 409 "import in progress", 429, 5xx.
        """
        status, text = response.status_code, short_body(response)
        if status in (409, 422) and _not_live(response):
            raise FatalProviderError(
                f"voiso: campaign {self.campaign} is not live; enable 'Live campaign' on this Dialer campaign "
                f"(HTTP 409: {text})", status=409)
        if status == 422 and TOO_MANY.search(text):
            raise FatalProviderError(f"voiso refused the batch size, a leadflow bug (HTTP 422: {text})", status=422)
        classify_status(response, extra_retry=self.limits.extra_retry_statuses, refused=frozenset({400, 422}))

    def parse_response(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        report = _import_report(response)
        digits = format_phone(batch[C.PHONE_E164], "digits")
        created, duplicates, rejected = (digits.isin(report[k]).to_numpy(dtype=bool)
                                         for k in ("created", "duplicates", "rejected"))
        conditions = [created, duplicates, rejected]
        outcome = np.select(conditions, [Outcome.LOADED, Outcome.DUPLICATE, Outcome.REJECTED], default=Outcome.REJECTED)
        reason = np.select(conditions, ["", DUPLICATE, REJECTED], default=MISSING)
        return result_frame(batch, pd.Series(outcome), pd.Series(reason, dtype="string").replace("", pd.NA))

    def list_campaigns(self) -> list[dict[str, Any]]:
        """Every campaign the key can read (``GET /campaigns``, paged by 100)."""
        out: list[dict[str, Any]] = []
        while True:
            request = self.client.build_request("GET", f"{self.api}/campaigns",
                                                params={"limit": PAGE, "offset": len(out)})
            response = self.call(request)
            self.classify(response)
            data = response.json()
            page = data.get("campaigns") or []
            out += [{"id": c.get("id"), "name": c.get("name"), "status": c.get("status"),
                     "strategy": c.get("strategy")} for c in page]
            if not page or len(out) >= int((data.get("metadata") or {}).get("total") or 0):
                return out


def _not_live(response: httpx.Response) -> bool:
    """Whether an answer says the campaign is not live: a message naming "live" that is not about a lead
    (the ``campaign`` entry of ``errors``, or ``error``), or, for a body that is not JSON, anywhere."""
    try:
        body = response.json()
    except ValueError:
        return NOT_LIVE.search(response.text) is not None
    if not isinstance(body, dict):
        return False
    errors = body.get("errors")
    errors = errors if isinstance(errors, dict) else {}
    messages = [body.get("error"), *(v for k, v in errors.items() if not str(k).startswith("leads"))]
    return any(NOT_LIVE.search(str(m)) for m in messages if m)


def _text(batch: pd.DataFrame, column: str) -> pd.Series:
    """A column as strings, or all <NA> when the batch does not have it."""
    if column in batch:
        return batch[column].astype("string")
    return pd.Series(pd.NA, index=batch.index, dtype="string")


def _import_report(response: httpx.Response) -> dict[str, set[str]]:
    """The ``leads_import`` lists as digit sets.

    Raises:
        AmbiguousDeliveryError: a 2xx answer without them (the leads may have landed).
    """
    try:
        report = response.json().get("leads_import")
        return {k: {str(p).lstrip("+") for p in report.get(k) or []}
                for k in ("created", "duplicates", "rejected")}
    except (ValueError, AttributeError, TypeError):
        raise AmbiguousDeliveryError(
            f"voiso answered {response.status_code} without a leads_import report: {short_body(response)}",
            status=response.status_code) from None
