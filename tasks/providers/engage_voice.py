"""RingCentral Engage Voice (RingCX) lead loader: ``leadLoader/direct``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlparse

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from schemas import columns as C
from tasks.http import HeaderAuth, classify_status
from tasks.payload import json_records
from tasks.providers.base import (
    Credentials,
    Provider,
    ProviderLimits,
    RateWindow,
    documented_json,
    path_id,
    result_frame,
)
from tasks.providers.engage_auth import EngageTokenAuth
from tasks.providers.errors import AmbiguousDeliveryError, ConfigurationError
from tasks.rules.phones import format_phone

LEGACY_HOST_SUFFIXES = (".vacd.biz", ".virtualacd.biz")


class EngageOptions(BaseModel):
    """Options of an Engage Voice load (the LeadListProcessingRequest settings)."""

    model_config = ConfigDict(extra="forbid")

    list_state: Literal["ACTIVE", "PAUSED"] = "ACTIVE"
    duplicate_handling: Literal["RETAIN_ALL", "REMOVE_ALL_EXISTING", "REMOVE_FROM_LIST"] = "REMOVE_ALL_EXISTING"
    time_zone_option: Literal["NPA_NXX", "ZIPCODE", "EXPLICIT", "NOT_APPLICABLE"] = "NPA_NXX"
    dial_priority: Literal["IMMEDIATE", "NORMAL"] = "NORMAL"
    description: str | None = Field(None, description="List description (default: leadflow <run>)")
    dnc_tags: list[str] = Field(default_factory=list)
    pipe_alt_phones: bool = Field(True, description="Send additional phones pipe-joined in leadPhone.")
    legacy: bool | None = Field(None, description="Legacy /api/v1 paths (default: by host name).")


class EngageVoice(Provider):
    """Engage Voice direct lead loader."""

    name: ClassVar[str] = "engage-voice"
    limits: ClassVar[ProviderLimits] = ProviderLimits(
        max_batch_size=50_000,  # none documented; keep requests to a sane size
        default_batch_size=5_000,
        rate_windows=(RateWindow(30, 10.0), RateWindow(120, 60.0)),
        max_in_flight=4,
        phone_format="national",
        partial_success=True,
        enforces_calling_windows=True,
        call_windows={"lookup": (RateWindow(15, 10.0), RateWindow(60, 30.0))},  # campaignLeads/leadSearch
    )
    known_hosts: ClassVar[tuple[str, ...]] = (
        "ringcx.ringcentral.com", "engage.ringcentral.com", *(f"*{s}" for s in LEGACY_HOST_SUFFIXES))
    base_url_env: ClassVar[str] = "ENGAGE_VOICE_BASE_URL"
    default_base_url: ClassVar[str] = "https://ringcx.ringcentral.com"
    credential_env: ClassVar[dict[str, str]] = {
        "api_token": "ENGAGE_VOICE_API_TOKEN",
        "rc_access_token": "ENGAGE_VOICE_RC_ACCESS_TOKEN",
    }
    options_model: ClassVar[type[BaseModel]] = EngageOptions
    options: EngageOptions

    @classmethod
    def check_credentials(cls, credentials: Credentials) -> None:
        if not (credentials.get("api_token") or credentials.get("rc_access_token")):
            raise ConfigurationError(
                "engage-voice needs ENGAGE_VOICE_API_TOKEN (sent as X-Auth-Token) or "
                "ENGAGE_VOICE_RC_ACCESS_TOKEN (exchanged for a RingCX token)")

    def auth(self) -> httpx.Auth | None:
        token = self.credentials.get("api_token")
        if token:
            return HeaderAuth("X-Auth-Token", token)
        rc = self.credentials.get("rc_access_token")
        assert rc is not None
        return EngageTokenAuth(str(self.client.base_url), rc, verify=self.verify_tls)

    @property
    def default_description(self) -> str:
        """The list description when none is set: ``leadflow <UTC date>``."""
        return f"leadflow {datetime.now(UTC):%Y-%m-%d}"

    @property
    def legacy(self) -> bool:
        if self.options.legacy is not None:
            return bool(self.options.legacy)
        host = urlparse(str(self.client.base_url)).hostname or ""
        return host.endswith(LEGACY_HOST_SUFFIXES)

    @property
    def api_root(self) -> str:
        return "/api/v1/admin" if self.legacy else "/voice/api/v1/admin"

    def prepare(self) -> None:
        """Resolve ``~`` (or no account) to the account id, client-side."""
        if self.account in (None, "", "~"):
            auth = self.client.auth
            if isinstance(auth, EngageTokenAuth):
                self.account = auth.account_id()
            else:
                accounts = self._get(f"{self.api_root}/accounts")
                if not accounts:
                    raise ConfigurationError("engage-voice: this token sees no account")
                self.account = str(accounts[0]["accountId"])
        path_id(self.account, "engage-voice account")
        if not str(self.campaign).isdigit():
            raise ConfigurationError(f"engage-voice campaign ids are integers, got {self.campaign!r}")

    def _get(self, path: str, **params: Any) -> Any:
        resp = self.call(self.client.build_request("GET", path, params=params or None))
        classify_status(resp)
        return resp.json()

    def build_request(self, batch: pd.DataFrame) -> httpx.Request:
        columns = self._lead_columns(batch)
        extras = [name for name in columns if name.startswith(C.EXTRA_PREFIX)]
        named = {name[len(C.EXTRA_PREFIX):] if name in extras else name: v for name, v in columns.items()}
        if len(named) == len(columns):
            leads = pd.DataFrame(named, index=batch.index, copy=False)
        else:  # an extra field named like a CampaignLead field: both columns stay
            leads = pd.DataFrame(columns, index=batch.index, copy=False)
            leads = leads.rename(columns={c: c[len(C.EXTRA_PREFIX):] for c in extras})
        body = json_records(leads, nested={"extendedLeadData": [c[len(C.EXTRA_PREFIX):] for c in extras]})
        o = self.options
        head = (
            f'{{"description":{_q(o.description or self.default_description)},"listState":"{o.list_state}",'
            f'"duplicateHandling":"{o.duplicate_handling}","timeZoneOption":"{o.time_zone_option}",'
            f'"dialPriority":"{o.dial_priority}","dncTags":{_qlist(o.dnc_tags)},"uploadLeads":'
        ).encode()
        account = path_id(self.account, "account")
        path = f"{self.api_root}/accounts/{account}/campaigns/{self.campaign}/leadLoader/direct"
        return self.client.build_request("POST", path, content=head + body + b"}",
                                         headers={"Content-Type": "application/json"})

    def lead_frame(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The CampaignLead fields of each lead, column-wise (extra fields keep their ``extra.`` prefix)."""
        return pd.DataFrame(self._lead_columns(batch), index=batch.index, copy=False)

    def _lead_columns(self, batch: pd.DataFrame) -> dict[str, Any]:
        """The columns of :meth:`lead_frame`, in order (built as one dict: a frame grown column by
        column costs more than its JSON)."""
        phone = format_phone(batch[C.PHONE_E164], "national")
        if self.options.pipe_alt_phones and C.ALT_PHONES in batch:
            alts = batch[C.ALT_PHONES].astype("string").str.replace("+1", "", regex=False)
            phone = phone.where(alts.isna(), phone + "|" + alts)
        out: dict[str, Any] = {"externId": batch[C.EXTERNAL_ID] if C.EXTERNAL_ID in batch else pd.NA,
                               "leadPhone": phone, "leadPhoneE164": batch[C.PHONE_E164]}
        for api, col in _FIELDS.items():
            if col in batch:
                out[api] = batch[col]
        if C.PRIORITY in batch and batch[C.PRIORITY].notna().any():
            out["leadPriority"] = pd.to_numeric(batch[C.PRIORITY], errors="coerce").round().astype("Int64")
        if self.options.time_zone_option == "EXPLICIT" and C.TZ_ZONES in batch:
            out["leadTimezone"] = batch[C.TZ_ZONES].astype("string").str.split("|").str[0]
        for col in batch.columns:
            if not col.startswith(C.EXTRA_PREFIX):
                continue
            name = col[len(C.EXTRA_PREFIX):]
            aux = _AUX.get(name.lower().replace("_", ""))
            out[aux or col] = batch[col]
        return out

    def parse_response(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        # Answer classification (docs/delivery.md): without the documented count, delivery is unknown.
        result = documented_json(self.name, response, "a LeadListProcessingResult with leadsAccepted",
                                 lambda body: _accepted(body, len(batch)) is not None)
        rejected: dict[str, str] = {}
        for item in result.get("rejectedRows") or []:
            data = item.get("rowData") or []
            key = str(data[0]) if data else ""
            rejected[key] = str(item.get("message") or "rejected by engage-voice")
        ext = batch[C.EXTERNAL_ID].astype("string").fillna("") if C.EXTERNAL_ID in batch else None
        if ext is None or not rejected:
            accepted = _accepted(result, len(batch))
            if accepted and accepted < len(batch) and not rejected:
                raise AmbiguousDeliveryError(f"engage-voice accepted {accepted} of {len(batch)} leads without "
                                             "naming the others (delivery unknown)", status=response.status_code)
            if accepted == 0 and not rejected:
                status = result.get("processingStatus") or result.get("message") or "not accepted"
                return result_frame(batch, "rejected", f"engage-voice: {status}")
            return result_frame(batch, "loaded", None)
        reasons = ext.map(rejected)
        outcome = pd.Series("loaded", index=batch.index).where(reasons.isna(), "rejected")
        return result_frame(batch, outcome, ("engage-voice: " + reasons).where(reasons.notna(), None))

    def reconcile(self, recorded: pd.DataFrame) -> pd.DataFrame | None:
        """Look the leads up with ``campaignLeads/leadSearch`` by external id."""
        ids = recorded["external_id"].dropna().astype(str).tolist()
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            body = {"campaignIds": [int(self.campaign)], "externIds": ids[start:start + 500]}
            resp = self.call(self.client.build_request(
                "POST", f"{self.api_root}/accounts/{path_id(self.account, 'account')}/campaignLeads/leadSearch",
                json=body), "lookup")
            classify_status(resp)
            data = documented_json(self.name, resp, "a lead search result", lambda d: isinstance(d, (list, dict)))
            items = data if isinstance(data, list) else data.get("results") or data.get("leads") or []
            found.update(str(x.get("externId")) for x in items)
        return pd.DataFrame({C.ROW: recorded["row"].to_numpy(),
                             "found": recorded["external_id"].astype(str).isin(found).to_numpy()})

    def list_campaigns(self) -> list[dict[str, Any]]:
        self.prepare_account_only()
        groups = self._get(f"{self.api_root}/accounts/{self.account}/dialGroups")
        out: list[dict[str, Any]] = []
        for g in groups:
            gid = g.get("dialGroupId")
            for c in self._get(f"{self.api_root}/accounts/{self.account}/dialGroups/{gid}/campaigns"):
                out.append({"id": c.get("campaignId"), "name": c.get("campaignName"),
                            "dial_group": g.get("dialGroupName"), "dial_group_id": gid,
                            "active": bool(c.get("isActive"))})
        return out

    def prepare_account_only(self) -> None:
        """Resolve the account without checking the campaign (for discovery)."""
        campaign, self.campaign = self.campaign, "0"
        try:
            self.prepare()
        finally:
            self.campaign = campaign


def _accepted(result: Any, leads: int) -> int | None:
    """The documented ``leadsAccepted`` count of an answer, if it is one (0 to ``leads``)."""
    value = result.get("leadsAccepted") if isinstance(result, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= leads:
        return value
    return None


_FIELDS = {
    "firstName": C.FIRST_NAME, "lastName": C.LAST_NAME, "email": C.EMAIL,
    "address1": C.ADDRESS1, "address2": C.ADDRESS2, "city": C.CITY, "state": C.STATE, "zip": C.ZIP,
}
_AUX = {f"auxdata{i}": f"auxData{i}" for i in range(1, 6)}


def _q(text: str) -> str:
    import json

    return json.dumps(text)


def _qlist(items: list[str]) -> str:
    import json

    return json.dumps(items)
