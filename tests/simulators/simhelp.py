"""Helpers for the simulator tests: a control wrapper and valid lead factories."""

from __future__ import annotations

from typing import Any

import httpx

ENGAGE_LOADER = "/voice/api/v1/admin/accounts/99990001/campaigns/4001/leadLoader/direct"
PEARL = "6a27be5ae83373643a10ae34"
NLPEARL_ADD = f"/v2/Outbound/{PEARL}/Leads/Add"
VOISO_LEADS = "/api/v4/campaigns/3/leads"
ENGAGE_API_TOKEN = {"X-Auth-Token": "sim-engage-api-token"}
NLPEARL_AUTH = {"Authorization": "Bearer sim-account:sim-secret"}
VOISO_AUTH = {"Authorization": "Bearer sim-voiso-key"}


class Sim:
    """A running simulator: its client and a few control helpers."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def configure(self, **changes: Any) -> None:
        """Change the simulator's config at runtime."""
        response = self.client.post("/_sim/config", json=changes)
        assert response.status_code == 200, response.text

    def faults(self, *plan: dict[str, Any], match: str | None = None) -> None:
        """Install a fault plan."""
        response = self.client.post("/_sim/faults", json={"plan": list(plan), "match": match})
        assert response.status_code == 200, response.text

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward."""
        assert self.client.post("/_sim/clock", json={"advance_s": seconds}).status_code == 200

    def received(self) -> list[dict[str, Any]]:
        """The simulator's request log."""
        return list(self.client.get("/_sim/received").json())

    def leads(self) -> Any:
        """Everything the simulator stored."""
        return self.client.get("/_sim/leads").json()



def engage_leads(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Valid Engage CampaignLeads with distinct 10-digit phones."""
    return [{"externId": f"e{i}", "leadPhone": f"415555{i:04d}"} for i in range(start, start + count)]


def engage_body(leads: list[dict[str, Any]], handling: str = "RETAIN_ALL") -> dict[str, Any]:
    """A LeadListProcessingRequest."""
    return {"description": "test list", "listState": "ACTIVE", "dialPriority": "NORMAL",
            "duplicateHandling": handling, "timeZoneOption": "NOT_APPLICABLE",
            "uploadLeads": leads}


def pearl_leads(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Valid NLPearl leads with distinct E.164 phones and external IDs."""
    return [{"phoneNumber": f"+1415555{i:04d}", "externalId": f"x{i}"}
            for i in range(start, start + count)]


def voiso_leads(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Valid Voiso leads with distinct phones."""
    return [{"phone_number": f"1415555{i:04d}"} for i in range(start, start + count)]
