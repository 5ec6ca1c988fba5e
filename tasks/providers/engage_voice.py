"""RingCentral Engage Voice (RingCX) lead loader: ``leadLoader/direct``.

The base URL may be any documented form: the host (``https://ringcx.ringcentral.com``), the
host with ``/voice`` (``https://engage.ringcentral.com/voice``, the seeds' ``baseURL``), or a
legacy host (``https://portal.vacd.biz/``, ``https://portal.virtualacd.biz/``), with or without
a trailing ``/``. The client is rooted at the host (``/voice`` dropped), so API paths are
``/voice/api/v1/...`` (``/api/v1/...`` on legacy hosts) and the token exchange ``/api/auth/...``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.provider_rules import ProviderRules
from tasks.http import HeaderAuth, classify_status
from tasks.payload import json_records
from tasks.providers import engage_fields as F
from tasks.providers.base import (
    Credentials,
    Provider,
    ProviderLimits,
    RateWindow,
    ResendRule,
    disposition_frame,
    path_id,
)
from tasks.providers.engage_auth import DEFAULT_RC_SERVER, EngageTokenAuth, RingCentralLogin
from tasks.providers.engage_legacy_auth import EngageLegacyAuth
from tasks.providers.engage_result import SEARCH_ROWS, landed_pairs, load_result, search_leads, settle_load

LEGACY_HOST_SUFFIXES = (".vacd.biz", ".virtualacd.biz")
#: Path endings of a base URL that are not part of the host root (longest first).
ROOT_SUFFIXES = ("/voice/api/v1", "/voice/api", "/voice", "/api/v1", "/api")
#: Environment variable of the RingCentral platform server (for the JWT and password logins).
RC_SERVER_ENV = "ENGAGE_VOICE_RC_SERVER_URL"
#: Fields leadflow writes itself; a custom field may not take their names.
RESERVED = frozenset({"externId", "leadPhone", "leadPhoneE164", "extendedLeadData", "personaPhoneConfig"})


def host_root(base_url: str) -> str:
    """The host root of an Engage base URL: ``https://engage.ringcentral.com/voice/`` -> ``https://engage.ringcentral.com``."""
    url = httpx.URL(base_url)
    path = url.path.rstrip("/")
    for suffix in ROOT_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return str(url.copy_with(path=path or "/", query=None, fragment=None)).rstrip("/")


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
    rc_server_url: str | None = Field(
        None, description=f"RingCentral platform server for JWT/password logins (default: {RC_SERVER_ENV} "
                          f"or {DEFAULT_RC_SERVER}).")


class EngageVoice(Provider):
    """Engage Voice direct lead loader."""

    name: ClassVar[str] = "engage-voice"
    limits: ClassVar[ProviderLimits] = ProviderLimits(
        max_batch_size=50_000,  # none documented; keep requests to a sane size
        default_batch_size=5_000,
        # leadLoader/direct, per account, counted by the dialer as requests arrive (tasks/ratelimit.py)
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
        "rc_client_id": "ENGAGE_VOICE_RC_CLIENT_ID",
        "rc_client_secret": "ENGAGE_VOICE_RC_CLIENT_SECRET",
        "rc_jwt": "ENGAGE_VOICE_RC_JWT",
        "rc_username": "ENGAGE_VOICE_RC_USERNAME",
        "rc_password": "ENGAGE_VOICE_RC_PASSWORD",
        "rc_extension": "ENGAGE_VOICE_RC_EXTENSION",
        "username": "ENGAGE_VOICE_USERNAME",
        "password": "ENGAGE_VOICE_PASSWORD",
    }
    options_model: ClassVar[type[BaseModel]] = EngageOptions
    field_rules: ClassVar[ProviderRules] = ProviderRules(
        name="engage-voice",
        required=(C.EXTERNAL_ID,),  # externId: "required string property" (classic docs)
        max_lengths={C.EXTERNAL_ID: 100},  # [I]
        extra_max=255,  # [I] extendedLeadData values
    )
    #: Every lead of an unanswered request is looked up (``leadSearch``) before it is sent again, so an
    #: answer to a lead sent again means what it always means.
    resend: ClassVar[ResendRule] = ResendRule()
    simulator: ClassVar[str | None] = "simulators.engage_voice:create_app"
    simulator_port: ClassVar[int] = 8701
    # leadState values are the spec's enum [F]; what each means for later loads is inferred [I], and so
    # are the lastPassDisposition values (system dispositions are not listed in the documents).
    disposition_map: ClassVar[dict[str, dict[str, str]]] = {
        "state": {"DO-NOT-CALL": "dnc", "DISCONNECTED": "bad_number", "INTERCEPT": "bad_number",
                  "COMPLETE": "reached"},
        "disposition": {"DNC": "dnc", "DO NOT CALL": "dnc", "DISCONNECTED": "bad_number",
                        "INTERCEPT": "bad_number", "WRONG NUMBER": "bad_number", "ANSWER": "reached",
                        "ANSWERED": "reached", "HUMAN": "reached"},
    }
    options: EngageOptions

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client.base_url = host_root(str(self.client.base_url))

    @classmethod
    def check_credentials(cls, credentials: Credentials) -> None:
        get, env = credentials.get, cls.credential_env
        if get("api_token") or get("rc_access_token") or _login(credentials, DEFAULT_RC_SERVER).kind != "token":
            return
        if get("username") or get("password"):
            missing = [env[k] for k in ("username", "password") if not get(k)]
            if missing:
                raise ConfigurationError(f"engage-voice: the legacy login also needs {', '.join(missing)}")
            return
        parts = ("rc_client_id", "rc_client_secret", "rc_jwt", "rc_username", "rc_password")
        if any(get(k) for k in parts):
            user = ("rc_username", "rc_password") if get("rc_username") or get("rc_password") else ("rc_jwt",)
            missing = [env[k] for k in ("rc_client_id", "rc_client_secret", *user) if not get(k)]
            raise ConfigurationError(f"engage-voice: the RingCentral login also needs {', '.join(missing)}")
        raise ConfigurationError(
            "engage-voice needs ENGAGE_VOICE_API_TOKEN (sent as X-Auth-Token), a RingCentral login "
            "(ENGAGE_VOICE_RC_CLIENT_ID and ENGAGE_VOICE_RC_CLIENT_SECRET with ENGAGE_VOICE_RC_JWT, or with "
            "ENGAGE_VOICE_RC_USERNAME, ENGAGE_VOICE_RC_PASSWORD and ENGAGE_VOICE_RC_EXTENSION), "
            "ENGAGE_VOICE_RC_ACCESS_TOKEN (exchanged for a RingCX token), or on a legacy host "
            "ENGAGE_VOICE_USERNAME and ENGAGE_VOICE_PASSWORD")

    def auth(self) -> httpx.Auth | None:
        token = self.credentials.get("api_token")
        if token:
            return HeaderAuth("X-Auth-Token", token)
        username, password = self.credentials.get("username"), self.credentials.get("password")
        if self.legacy and username and password:
            return EngageLegacyAuth(self.client, username, password)
        server = self.options.rc_server_url or os.environ.get(RC_SERVER_ENV) or DEFAULT_RC_SERVER
        login = _login(self.credentials, server)
        if login.kind == "token" and not login.access_token:
            raise ConfigurationError(
                "engage-voice: ENGAGE_VOICE_USERNAME and ENGAGE_VOICE_PASSWORD are the login of legacy hosts "
                "(portal.vacd.biz, portal.virtualacd.biz, or the legacy option); this host needs "
                "ENGAGE_VOICE_API_TOKEN or a RingCentral login")
        return EngageTokenAuth(self.client, login)

    @property
    def default_description(self) -> str:
        """The list description when none is set: ``leadflow <UTC date>``."""
        return f"leadflow {datetime.now(UTC):%Y-%m-%d}"

    @property
    def legacy(self) -> bool:
        if self.options.legacy is not None:
            return bool(self.options.legacy)
        return (self.client.base_url.host or "").endswith(LEGACY_HOST_SUFFIXES)

    @property
    def api_root(self) -> str:
        return "/api/v1/admin" if self.legacy else "/voice/api/v1/admin"

    def prepare(self) -> None:
        """Resolve ``~`` (or no account) to the account id, client-side."""
        if self.account in (None, "", "~"):
            auth = self.client.auth
            if isinstance(auth, EngageTokenAuth | EngageLegacyAuth):
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
        leads, nested = self._lead_columns(batch)
        o = self.options
        head = (
            f'{{"description":{json.dumps(o.description or self.default_description)},"listState":"{o.list_state}",'
            f'"duplicateHandling":"{o.duplicate_handling}","timeZoneOption":"{o.time_zone_option}",'
            f'"dialPriority":"{o.dial_priority}","dncTags":{json.dumps(o.dnc_tags)},"uploadLeads":'
        ).encode()
        account = path_id(self.account, "account")
        path = f"{self.api_root}/accounts/{account}/campaigns/{self.campaign}/leadLoader/direct"
        body = json_records(pd.DataFrame(leads, index=batch.index, copy=False), nested=nested, prefix=head, suffix=b"}")
        return self.client.build_request("POST", path, content=body, headers={"Content-Type": "application/json"})

    def lead_frame(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The CampaignLead fields of each lead, column-wise (nested members under their own keys)."""
        return pd.DataFrame(self._lead_columns(batch)[0], index=batch.index, copy=False)

    def _lead_columns(self, batch: pd.DataFrame) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The columns of the request's leads, in order, and the nested objects' members (built as
        one dict: a frame grown column by column costs more than its JSON)."""
        out: dict[str, Any] = {"externId": batch[C.EXTERNAL_ID] if C.EXTERNAL_ID in batch else pd.NA,
                               "leadPhone": F.lead_phone(batch, self.options.pipe_alt_phones),
                               "leadPhoneE164": batch[C.PHONE_E164]}
        for api, col in F.CANONICAL.items():
            if col in batch:
                out[api] = batch[col]
        if C.PRIORITY in batch and batch[C.PRIORITY].notna().any():
            out["leadPriority"] = F.typed("leadPriority", batch[C.PRIORITY])
        if self.options.time_zone_option == "EXPLICIT" and C.TZ_ZONES in batch:
            out["leadTimezone"] = batch[C.TZ_ZONES].astype("string").str.split("|").str[0]
        personas = F.persona_columns(batch)
        extended: dict[str, Any] = {}
        for col in C.extra_columns(batch.columns):
            if col in personas:
                continue
            field = F.field_of(col)
            if field is None:
                extended[col[len(C.EXTRA_PREFIX):]] = batch[col]
            elif field in out:  # a canonical column fills it too: the custom field fills its gaps
                out[field] = out[field].fillna(F.typed(field, batch[col]))
            else:
                out[field] = F.typed(field, batch[col])
        groups = {"extendedLeadData": extended, "personaPhoneConfig": {personas[c]: batch[c] for c in personas}}
        taken = set(out) | RESERVED
        for name, members in groups.items():
            clash = sorted(set(members) & taken)
            if clash:
                raise ConfigurationError(f"engage-voice: {name} key(s) {clash} clash with CampaignLead fields; "
                                         f"rename the custom field(s)")
            taken |= set(members)
            out.update(members)
        return out, {name: list(members) for name, members in groups.items()}

    def parse_response(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        return settle_load(batch, load_result(response), lambda: F.lead_phone(batch, self.options.pipe_alt_phones),
                           self.options.duplicate_handling, self._landed)

    def _search(self, key: str, values: list[str]) -> list[dict[str, Any]]:
        """The campaign's leads whose ``key`` (``externIds`` or ``leadPhoneNumbers``) is among ``values``
        (``leadSearch``, 500 values a search, each page under the ``lookup`` rate windows)."""
        path = f"{self.api_root}/accounts/{path_id(self.account or '', 'account')}/campaignLeads/leadSearch"
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), SEARCH_ROWS):
            criteria = {"campaignIds": [int(self.campaign)], key: values[start:start + SEARCH_ROWS]}
            found += search_leads(lambda request: self.call(request, "lookup"), self.client, path, criteria)
        return found

    def _landed(self, key: str, values: list[str]) -> set[tuple[str, str]]:
        """(externId, first phone) of the campaign's leads whose ``key`` is among ``values``."""
        return landed_pairs(self._search(key, values))

    def read_dispositions(self, external_ids: list[str]) -> pd.DataFrame:
        """``leadState``, ``lastPassDisposition``, ``leadPasses`` and ``lastPassDts`` of the leads
        (``CampaignLeadSearchResultsView`` [F]; the answer's shape is inferred, see engage_result)."""
        # The same externId loaded twice: the newest lead (highest leadId) counts.
        items = sorted(self._search("externIds", external_ids),
                       key=lambda x: int(x["leadId"]) if str(x.get("leadId", "")).isdigit() else 0)
        return disposition_frame([
            {"external_id": x.get("externId"), "state": x.get("leadState"), "disposition": x.get("lastPassDisposition"),
             "passes": x.get("leadPasses"), "disposition_at": x.get("lastPassDts")} for x in items])

    def reconcile(self, recorded: pd.DataFrame) -> pd.DataFrame | None:
        """Look the leads up with ``campaignLeads/leadSearch`` by external id."""
        ids = recorded["external_id"].dropna().astype(str).unique().tolist()
        found = {extern for extern, _ in self._landed("externIds", ids)}
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


def _login(credentials: Credentials, server: str) -> RingCentralLogin:
    """The RingCentral login the credentials make (``kind`` ``token`` when there is no app login)."""
    get = credentials.get
    return RingCentralLogin(server=server, access_token=get("rc_access_token"), client_id=get("rc_client_id"),
                            client_secret=get("rc_client_secret"), jwt=get("rc_jwt"), username=get("rc_username"),
                            password=get("rc_password"), extension=get("rc_extension"))
