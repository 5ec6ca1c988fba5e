"""Engage Voice simulator settings and state: accounts, tokens, campaign leads, views, search."""

from __future__ import annotations

import gc
import itertools
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from simulators.common import SimState
from simulators.dispositions import ENGAGE_TABLE, SimDispositions
from simulators.engage_loader import CampaignStore

LOAD_MATCH = r"/campaigns/[^/]+/leadLoader/direct$"
#: Stored leads from which on every load ends with ``gc.freeze()`` (see ``EngageState.after_load``).
FREEZE_FROM = 50_000


class EngageCampaignSpec(BaseModel):
    """A campaign the simulator knows."""

    campaign_id: int
    name: str


class EngageDialGroupSpec(BaseModel):
    """A dial group and its campaigns."""

    dial_group_id: int
    name: str
    dial_mode: str = "PREDICTIVE"
    campaigns: list[EngageCampaignSpec]


class EngageAccountSpec(BaseModel):
    """A RingCX sub-account and its dial groups."""

    account_id: str
    name: str
    dial_groups: list[EngageDialGroupSpec]


def _default_accounts() -> list[EngageAccountSpec]:
    predictive = EngageDialGroupSpec(
        dial_group_id=115793, name="My Dial Group - Predictive",
        campaigns=[EngageCampaignSpec(campaign_id=4001, name="Renewals"),
                   EngageCampaignSpec(campaign_id=4002, name="Win-back")],
    )
    preview = EngageDialGroupSpec(
        dial_group_id=115794, name="Preview Group", dial_mode="PREVIEW",
        campaigns=[EngageCampaignSpec(campaign_id=4003, name="Callbacks")],
    )
    return [EngageAccountSpec(account_id="99990001", name="Simulated Sub-Account",
                              dial_groups=[predictive, preview])]


class EngageSimConfig(BaseModel):
    """Engage Voice simulator settings; windows are (requests, seconds) pairs, all enforced."""

    api_token: SecretStr = SecretStr("sim-engage-api-token")
    rc_access_token: SecretStr = SecretStr("sim-rc-access-token")
    #: The RingCentral app and user of the ``/restapi/oauth/token`` twin (JWT and password grants).
    rc_client_id: str = "sim-rc-client-id"
    rc_client_secret: SecretStr = SecretStr("sim-rc-client-secret")
    rc_jwt: SecretStr = SecretStr("sim-rc-jwt")
    rc_username: str = "admin@example.com"
    rc_password: SecretStr = SecretStr("sim-rc-password")
    rc_extension: str = "101"
    #: The user of the legacy (vacd) login, ``POST /api/v1/auth/login``.
    legacy_username: str = "legacy-admin"
    legacy_password: SecretStr = SecretStr("sim-legacy-password")
    #: Lifetime of a legacy ``authToken`` after its last use (documented: 1 hour).
    legacy_token_ttl_s: float = 3600.0
    #: Lifetime of a RingCX refresh token (undocumented; None: it never expires).
    refresh_token_ttl_s: float | None = None
    #: Lifetime of an issued RingCentral access token (RingCentral's default: one hour).
    rc_token_ttl_s: float = 3600.0
    main_account_id: str = "99990000"
    accounts: list[EngageAccountSpec] = Field(default_factory=_default_accounts)
    #: Lifetime of an issued RingCX access token (documented: 5 minutes).
    token_ttl_s: float = 300.0
    #: False switches off every rate window (for benchmarks).
    rate_limits: bool = True
    exchange_windows: list[tuple[int, float]] = [(5, 60.0)]
    loader_windows: list[tuple[int, float]] = [(30, 10.0), (120, 60.0)]
    search_windows: list[tuple[int, float]] = [(15, 10.0), (60, 30.0)]
    #: Leads allowed in one direct load (none documented); more gets 413.
    max_leads_per_request: int | None = None
    #: What a ``rejectedRows`` entry's ``rowData`` holds for a JSON load (undocumented, so inferred):
    #: ``[externId, phone]``, the phone alone, or nothing.
    rejected_row_data: Literal["externId-phone", "phone", "empty"] = "externId-phone"
    #: Shape of a ``leadSearch`` answer (declared only ``type: object``, so inferred): a list of
    #: leads, or ``{"totalCount": n, "results": [...]}``.
    search_shape: Literal["list", "object"] = "list"
    #: Leads per ``leadSearch`` page when the request gives no ``maxRows`` (undocumented; None: all).
    search_default_rows: int | None = None


@dataclass
class Session:
    """An issued RingCX access token."""

    account_id: str
    expires_at: float


class EngageState(SimState[EngageSimConfig]):
    """Issued tokens, campaign leads and upload lists."""

    def __init__(self, config: EngageSimConfig) -> None:
        super().__init__(config, LOAD_MATCH)
        self.sessions: dict[str, Session] = {}
        #: Issued legacy ``authToken`` values (sent as ``X-Auth-Token`` on the ``/api/v1`` paths).
        self.legacy_sessions: dict[str, Session] = {}
        #: Issued RingCX refresh tokens: their account and expiry.
        self.refresh_tokens: dict[str, tuple[str, float]] = {}
        #: RingCentral access tokens issued by the OAuth twin, with their expiry.
        self.rc_tokens: dict[str, float] = {}
        self.ids = itertools.count(1)
        self.list_ids = itertools.count(1001)
        self.froze = False
        self.clear_leads()

    def clear_leads(self) -> None:
        """Forget every lead and list (and give back to the GC what ``after_load`` froze)."""
        self.campaigns: dict[tuple[str, int], CampaignStore] = {}
        self.lists: list[dict[str, Any]] = []
        self.dispositions = SimDispositions(ENGAGE_TABLE)
        if self.froze:
            gc.unfreeze()
            self.froze = False

    def after_load(self) -> None:
        """Keep the cyclic GC from rescanning a large store after every few loads.

        Stored leads hold no reference cycles (refcounting frees them), but each one is a dict
        the GC tracks, and a full collection over a million of them pauses the server for about
        a second. From ``FREEZE_FROM`` stored leads on, every load moves all tracked objects to
        the GC's permanent generation (O(1)); ``clear_leads`` moves them back. Cyclic garbage
        that exists at a freeze is only collected after that reset. A load runs with the GC
        paused (``gc_paused``), so from then on the dicts it parses are never scanned at all.
        """
        if sum(len(store) for store in self.campaigns.values()) >= FREEZE_FROM:
            gc.freeze()
            self.froze = True

    def leads_view(self) -> dict[str, Any]:
        """Leads per account and campaign, plus the list records."""
        accounts: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for (account, campaign), store in self.campaigns.items():
            accounts.setdefault(account, {})[str(campaign)] = list(store.leads.values())
        return {"accounts": accounts, "lists": self.lists}

    def account(self, account_id: str) -> EngageAccountSpec | None:
        """The configured account with this ID (``~`` is not resolved)."""
        return next((a for a in self.config.accounts if a.account_id == account_id), None)

    def issue(self, account_id: str) -> tuple[str, str]:
        """New access and refresh tokens for an account."""
        access, refresh = f"sim-ringcx-{secrets.token_hex(16)}", secrets.token_hex(16)
        self.sessions[access] = Session(account_id, self.clock.now() + self.config.token_ttl_s)
        ttl = self.config.refresh_token_ttl_s
        self.refresh_tokens[refresh] = (account_id, self.clock.now() + ttl if ttl is not None else float("inf"))
        return access, refresh

    def refreshed_account(self, refresh: str) -> str | None:
        """The account of an unexpired refresh token (inferred: single use, like RingCentral's own)."""
        account_id, expires_at = self.refresh_tokens.pop(refresh, ("", 0.0))
        return account_id if expires_at > self.clock.now() else None

    def issue_rc(self) -> dict[str, Any]:
        """A RingCentral ``TokenInfo`` with a new access token (what ``/restapi/oauth/token`` answers)."""
        token = f"sim-rc-{secrets.token_hex(16)}"
        self.rc_tokens[token] = self.clock.now() + self.config.rc_token_ttl_s
        return {"access_token": token, "token_type": "bearer", "expires_in": int(self.config.rc_token_ttl_s),
                "refresh_token": secrets.token_hex(16), "refresh_token_expires_in": 604800,
                "scope": "ReadAccounts", "owner_id": "222222", "endpoint_id": secrets.token_hex(8)}

    def rc_token_ok(self, token: str) -> bool:
        """Whether the exchange takes this RingCentral token (the configured one, or an unexpired issued one)."""
        if token == self.config.rc_access_token.get_secret_value():
            return True
        return self.rc_tokens.get(token, 0.0) > self.clock.now()

    def search(self, account_id: str, criteria: Any) -> list[dict[str, Any]]:
        """Leads of an account matching ``CampaignLeadSearchCriteria`` (all given keys must match).

        Raises:
            ValueError: when an ID list holds something that is not a number.
        """
        criteria = criteria if isinstance(criteria, dict) else {}
        wanted: dict[str, set[Any]] = {
            "campaignId": {int(c) for c in criteria.get("campaignIds") or []},
            "externId": {str(e) for e in criteria.get("externIds") or []},
            "listId": {int(i) for i in criteria.get("listIds") or []},
            "leadId": {int(i) for i in criteria.get("leadIds") or []},
        }
        phones = {str(p) for p in criteria.get("leadPhoneNumbers") or []}
        if criteria.get("leadPhoneNum"):
            phones.add(str(criteria["leadPhoneNum"]))
        found = []
        for (account, _), store in self.campaigns.items():
            if account != account_id:
                continue
            for lead in store.leads.values():
                if any(values and lead[key] not in values for key, values in wanted.items()):
                    continue
                if phones and phones.isdisjoint(lead["leadPhone"].split("|")):
                    continue
                found.append(lead)
        return found


def find_campaign(
    account: EngageAccountSpec, campaign_id: int
) -> tuple[EngageDialGroupSpec, EngageCampaignSpec] | None:
    """The dial group and campaign with this ID in an account."""
    for group in account.dial_groups:
        for campaign in group.campaigns:
            if campaign.campaign_id == campaign_id:
                return group, campaign
    return None


def campaign_view(group: EngageDialGroupSpec, campaign: EngageCampaignSpec) -> dict[str, Any]:
    """A ``Campaign`` object as the discovery routes return it."""
    return {
        "campaignId": campaign.campaign_id, "campaignName": campaign.name,
        "campaignDesc": campaign.name, "isActive": 1, "groupId": group.dial_group_id,
        "dialGroup": {"dialGroupId": group.dial_group_id, "dialGroupName": group.name},
        "callerId": "4155550199", "countryId": "USA", "maxPasses": 3,
        "callingConfiguration": "SIMPLE", "startDate": None, "endDate": None,
    }


def group_view(group: EngageDialGroupSpec) -> dict[str, Any]:
    """A ``DialGroup`` object."""
    return {
        "isActive": True, "dialGroupId": group.dial_group_id, "dialGroupName": group.name,
        "dialGroupDesc": group.name, "dialMode": group.dial_mode, "allowLeadSearch": "NO",
        "maxLeadsReturned": 1, "agentDialGroupMembers": [], "permissions": [],
    }


def login_body(state: EngageState, account_id: str) -> dict[str, Any]:
    """An ``AccessTokenUserDetails`` with freshly issued tokens.

    The exchange's answer follows the vendor docs' example (documented). The refresh answer is
    given the same shape: the docs say only that it "returns a new accessToken and a new
    refreshToken" (inferred). Neither says when the token expires: 5 minutes (documented).
    """
    access, refresh = state.issue(account_id)
    account = state.account(account_id)
    agent = {
        "agentId": 111111, "firstName": "Sim", "lastName": "Admin",
        "email": "admin@example.com", "username": "admin@example.com", "agentType": "AGENT",
        "rcUserId": 222222, "accountId": account_id,
        "accountName": account.name if account else "", "agentGroupId": None,
        "allowLoginControl": True, "allowLoginUpdates": True,
    }
    return {
        "accessToken": access, "refreshToken": refresh, "tokenType": "Bearer",
        "mainAccountId": state.config.main_account_id, "platformId": "sim",
        "agentDetails": [agent], "adminId": 1111, "adminUrl": "/voice/admin/",
        "agentUrl": "/voice/agent/", "ssoLogin": True,
    }
