"""NLPearl outbound leads: ``POST /v2/Outbound/{pearlId}/Leads/Add``, settled by external-id lookups.

A 400 answer may name failed leads (``errors`` keyed ``leads[i]...``) while the valid ones were
stored (partial mode) or not (atomic mode); the docs do not say which. ``classify`` lets such an
answer through to ``parse_response``, which rejects the named leads and looks the others up by
``externalId``: found ones are loaded, missing ones are returned as ``UNSETTLED`` to be sent
again. Leads without an ``externalId`` cannot be looked up and none is generated for them.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.outcomes import Outcome
from schemas.provider_rules import ProviderRules
from tasks.http import bearer, classify_status, short_body
from tasks.payload import json_records
from tasks.providers.base import (
    Credentials,
    Provider,
    ProviderLimits,
    ResendRule,
    disposition_frame,
    path_id,
    result_frame,
)
from tasks.providers.errors import (
    AmbiguousDeliveryError,
    BatchRefusedError,
    RetriableProviderError,
)
from tasks.providers.nlpearl_lookup import STATUS_NAMES, fetch_leads, find_external_ids
from tasks.providers.nlpearl_problem import CONFIRMED, LEAD_KEY, UNSETTLED, lead_problem, settle_problem
from tasks.providers.nlpearl_zones import time_zone_ids
from tasks.rules.phones import format_phone

__all__ = ["UNSETTLED", "NLPearl", "NLPearlOptions"]

#: ``callData`` keys of the canonical fields sent along with the custom ``extra.*`` fields.
CALL_DATA_FIELDS = {
    C.FIRST_NAME: "firstName", C.LAST_NAME: "lastName", C.EMAIL: "email", C.ADDRESS1: "address",
    C.ADDRESS2: "address2", C.CITY: "city", C.STATE: "state", C.ZIP: "zip",
}
LEAD_FIELDS = ("phoneNumber", "externalId", "timeZoneId")


class NLPearlOptions(BaseModel):
    """Options of an NLPearl load."""

    model_config = ConfigDict(extra="forbid")

    send_time_zone: bool = Field(
        True, description="Send timeZoneId (the Windows ID of the lead's first zone); off: the Pearl's default.")
    call_data_fields: list[str] | None = Field(
        None, description="callData keys to send (firstName, email, ..., custom field names); default all.")
    lead_error_key: str = Field(
        LEAD_KEY, description="Regex of the 400 `errors` keys naming a lead; group 1 is its index (inferred).")
    duplicate_text: str = Field(
        "already exists", description="Text of a per-lead 400 message meaning the lead exists (inferred).")
    lookup_concurrency: int = Field(8, ge=1, le=64, description="Lead lookups in flight after a 400.")


class NLPearl(Provider):
    """NLPearl v2 outbound (one Pearl is the campaign)."""

    name: ClassVar[str] = "nlpearl"
    limits: ClassVar[ProviderLimits] = ProviderLimits(
        max_batch_size=50_000,  # documented maximum of Leads/Add
        # Half the maximum: with one request in flight each request's fixed cost is paid in series, and
        # 25,000 already cuts 1M leads from 200 requests (at 5,000) to 40; the maximum would save 20 more
        # but double what an unanswered request leaves to look up one GET per lead, and the body held
        # while it is out (docs/providers.md, "leads per request").
        default_batch_size=25_000,
        max_in_flight=1,  # no rate limit documented; keep bulk adds sequential per Pearl
        phone_format="e164",
        partial_success=True,
        enforces_calling_windows=True,
    )
    known_hosts: ClassVar[tuple[str, ...]] = ("api.nlpearl.ai",)
    base_url_env: ClassVar[str] = "NLPEARL_BASE_URL"
    default_base_url: ClassVar[str] = "https://api.nlpearl.ai"
    credential_env: ClassVar[dict[str, str]] = {
        "account_id": "NLPEARL_ACCOUNT_ID",
        "secret_key": "NLPEARL_SECRET_KEY",
    }
    options_model: ClassVar[type[BaseModel]] = NLPearlOptions
    field_rules: ClassVar[ProviderRules] = ProviderRules(
        name="nlpearl",
        max_lengths={C.EXTERNAL_ID: 100},  # [I]
        data_key=r"[^\x00-\x1f]{1,100}",  # [I] callData keys: 1-100 printable characters
        extra_max=1000,  # [I] callData values
        stringify_extras=True,
    )
    #: Leads without an external id cannot be looked up: sent again after an unanswered request, a lead
    #: the 400 answer names as existing was stored by that request.
    resend: ClassVar[ResendRule] = ResendRule(duplicate_is_loaded=CONFIRMED)
    simulator: ClassVar[str | None] = "simulators.nlpearl:create_app"
    simulator_port: ClassVar[int] = 8702
    # The lead statuses are documented [F]; what each means for later loads is inferred [I]. NLPearl has
    # no do-not-call status; Unreachable (150) is left to the mapping file (it may be a busy line).
    disposition_map: ClassVar[dict[str, dict[str, str]]] = {
        "state": {"WrongCountryCode": "bad_number", "Success": "reached", "NotSuccessfull": "reached",
                  "Complete": "reached"},
    }
    options: NLPearlOptions

    @classmethod
    def check_credentials(cls, credentials: Credentials) -> None:
        missing = [env for key, env in cls.credential_env.items() if not credentials.get(key)]
        if missing:
            raise ConfigurationError(f"nlpearl needs {' and '.join(missing)} (Settings -> API in NLPearl)")

    def auth(self) -> httpx.Auth | None:
        return bearer(f"{self.credentials.get('account_id')}:{self.credentials.get('secret_key')}")

    @property
    def outbound(self) -> str:
        """Path of the Pearl's outbound API."""
        return f"/v2/Outbound/{quote(str(self.campaign), safe='')}"

    def build_request(self, batch: pd.DataFrame) -> httpx.Request:
        leads = self.lead_frame(batch)
        data = [c for c in leads.columns if c not in LEAD_FIELDS]
        body = json_records(leads, nested={"callData": data}, prefix=b'{"leads":', suffix=b"}")
        return self.client.build_request("POST", f"{self.outbound}/Leads/Add", content=body,
                                         headers={"Content-Type": "application/json"})

    def lead_frame(self, batch: pd.DataFrame) -> pd.DataFrame:
        """``LeadToAddApi`` fields column-wise; callData columns come after the three lead fields."""
        out = {"phoneNumber": format_phone(batch[C.PHONE_E164], "e164")}
        if C.EXTERNAL_ID in batch:
            out["externalId"] = batch[C.EXTERNAL_ID].astype("string")
        if self.options.send_time_zone and C.TZ_ZONES in batch:
            out["timeZoneId"] = time_zone_ids(batch[C.TZ_ZONES])
        data = self.call_data(batch)
        clash = sorted(set(data) & set(LEAD_FIELDS))
        if clash:
            raise ConfigurationError(f"nlpearl: custom field(s) {clash} clash with lead fields; rename them")
        return pd.DataFrame({**out, **data}, index=batch.index, copy=False)

    def call_data(self, batch: pd.DataFrame) -> dict[str, pd.Series]:
        """The callData values (strings) by key: name, e-mail and address fields, then custom fields."""
        keys = {col: key for col, key in CALL_DATA_FIELDS.items() if col in batch}
        keys.update({col: col[len(C.EXTRA_PREFIX):] for col in C.extra_columns(batch.columns)})
        wanted = self.options.call_data_fields
        return {key: batch[col].astype("string") for col, key in keys.items() if wanted is None or key in wanted}

    def classify(self, response: httpx.Response) -> None:
        """Raise for answers that are not per-lead verdicts; a 400 naming leads is one.

        Raises:
            BatchRefusedError: a 400 that names no lead (the whole request is malformed).
            ProviderError: as ``classify_status`` for every other non-2xx answer.
        """
        if response.status_code == 400 and response.request.url.path.endswith("/Leads/Add"):
            problem = lead_problem(response, None, self.options.lead_error_key)
            if problem is not None and problem.per_lead:
                return
            detail = problem.summary() if problem is not None else short_body(response)
            raise BatchRefusedError(f"HTTP 400: {detail}", status=400)
        classify_status(response, extra_retry=self.limits.extra_retry_statuses)

    def parse_response(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        if response.status_code == 400:
            return self._settle_400(batch, response)
        try:
            verdict = response.json()
        except ValueError:
            verdict = None
        if verdict is not True:
            raise AmbiguousDeliveryError(
                f"nlpearl answered {response.status_code} without the documented `true`: {short_body(response)}",
                status=response.status_code)
        return result_frame(batch, Outcome.LOADED, None)

    def _settle_400(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        problem = lead_problem(response, len(batch), self.options.lead_error_key)
        if problem is None or not problem.per_lead:
            raise BatchRefusedError(f"HTTP 400: {short_body(response)}", status=400)
        ext = batch[C.EXTERNAL_ID] if C.EXTERNAL_ID in batch else pd.Series(pd.NA, index=batch.index)
        named = pd.Series(False, index=batch.index)
        named.iloc[list(problem.per_lead)] = True
        wanted = ext[~named & ext.notna()].astype(str).unique().tolist()
        try:
            hits = find_external_ids(self.call, self.client, self.outbound, wanted, self.options.lookup_concurrency)
        except RetriableProviderError as ex:
            raise AmbiguousDeliveryError(f"nlpearl: lookups after a 400 failed ({ex})", status=ex.status) from None
        found = ~named & ext.astype("string").isin(hits).fillna(False)
        return settle_problem(batch, problem, found, self.options.duplicate_text)

    def reconcile(self, recorded: pd.DataFrame) -> pd.DataFrame | None:
        """Look recorded leads up by external id; leads without one count as not found."""
        ext = recorded["external_id"]
        wanted = ext.dropna().astype(str).unique().tolist()
        hits = find_external_ids(self.call, self.client, self.outbound, wanted, self.options.lookup_concurrency)
        return pd.DataFrame({C.ROW: recorded["row"].to_numpy(),
                             "found": ext.astype("string").isin(hits).fillna(False).to_numpy(dtype=bool)})

    def read_dispositions(self, external_ids: list[str]) -> pd.DataFrame:
        """Each lead's ``status`` by name (``state``), its calls (``passes``) and its last call's start
        (``disposition_at``, else ``created``): "Get Lead Via External ID", ``lookup_concurrency`` at once
        (NLPearl documents no rate limit and no bulk read by external id [F])."""
        found = fetch_leads(self.call, self.client, self.outbound, external_ids, self.options.lookup_concurrency)
        rows = []
        for external_id, lead in found.items():
            last = lead.get("lastCall")
            last = last if isinstance(last, dict) else {}
            status, calls = lead.get("status"), lead.get("callsId")
            name = None if status is None else STATUS_NAMES.get(status, str(status))
            rows.append({"external_id": external_id, "state": name,
                         "disposition": None, "passes": len(calls) if isinstance(calls, list) else None,
                         "disposition_at": last.get("startTime") or lead.get("created")})
        return disposition_frame(rows)

    def prepare(self) -> None:
        """Check the credentials and the Pearl with one call (``GET /v2/Pearl/{pearlId}``)."""
        response = self.call(self.client.build_request("GET", f"/v2/Pearl/{path_id(self.campaign, 'pearl')}"))
        if response.status_code == 404:
            raise ConfigurationError(f"nlpearl: no pearl {self.campaign!r} in this account")
        classify_status(response)

    def list_campaigns(self) -> list[dict[str, Any]]:
        """The account's Pearls (``GET /v2/Pearl``): id, name and type."""
        response = self.call(self.client.build_request("GET", "/v2/Pearl"))
        classify_status(response)
        return [{"id": p.get("id"), "name": p.get("name"), "type": p.get("type")} for p in response.json()]
