"""Tiny Dialer: a provider added by the steps of docs/architecture.md alone (a made-up contract).

``POST /v1/lists/{list}/contacts`` with ``{"contacts": [{"ref", "phone", "name"}]}`` answers
``{"results": [{"ref", "status", "detail"}]}``, ``status`` one of ``added``, ``exists``, ``refused``;
``GET /v1/lists`` answers ``{"lists": {list: number of contacts}}``.
Registered through ``LEADFLOW_PROVIDERS=tiny_dialer:TinyDialer`` with this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict

from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.provider_rules import ProviderRules
from tasks.http import bearer, classify_status, send
from tasks.providers.base import Credentials, Provider, ProviderLimits, ResendRule, result_frame

#: Reasons of the outcomes the answer decides.
ON_LIST = "already on the list"
CONFIRMED = "already on the list after an unanswered attempt: loaded"
NO_ANSWER = "the answer has no result for this lead"


class TinyOptions(BaseModel):
    """Tiny Dialer takes no run options."""

    model_config = ConfigDict(extra="forbid")


class TinyDialer(Provider):
    """One contact list of Tiny Dialer is the campaign."""

    name: ClassVar[str] = "tiny-dialer"
    limits: ClassVar[ProviderLimits] = ProviderLimits(
        max_batch_size=100, default_batch_size=2, max_in_flight=1, enforces_calling_windows=True)
    field_rules: ClassVar[ProviderRules] = ProviderRules(
        name="tiny-dialer", required=(C.FIRST_NAME,), max_lengths={C.FIRST_NAME: 20})
    base_url_env: ClassVar[str] = "TINY_DIALER_BASE_URL"
    default_base_url: ClassVar[str] = "https://api.tiny-dialer.invalid"
    credential_env: ClassVar[dict[str, str]] = {"api_key": "TINY_DIALER_API_KEY"}
    options_model: ClassVar[type[BaseModel]] = TinyOptions
    #: No look-up: a contact sent again after an unanswered request that the list already has was stored by it.
    resend: ClassVar[ResendRule] = ResendRule(duplicate_is_loaded=CONFIRMED)
    simulator: ClassVar[str | None] = "tiny_dialer_sim:create_app"
    simulator_port: ClassVar[int] = 8799

    @classmethod
    def check_credentials(cls, credentials: Credentials) -> None:
        if not credentials.get("api_key"):
            raise ConfigurationError("tiny-dialer needs TINY_DIALER_API_KEY")

    def auth(self) -> httpx.Auth | None:
        return bearer(self.credentials.get("api_key") or "")

    def build_request(self, batch: pd.DataFrame) -> httpx.Request:
        contacts = [{"ref": str(row), "phone": phone, "name": name}
                    for row, phone, name in zip(batch[C.ROW], batch[C.PHONE_E164], batch[C.FIRST_NAME], strict=True)]
        return self.client.build_request("POST", f"/v1/lists/{self.campaign}/contacts", json={"contacts": contacts})

    def list_campaigns(self) -> list[dict[str, Any]]:
        response = send(self.client, self.client.build_request("GET", "/v1/lists"))
        classify_status(response)
        return [{"id": name, "contacts": count} for name, count in response.json()["lists"].items()]

    def parse_response(self, batch: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
        results = {r["ref"]: r for r in response.json()["results"]}
        decided = [_decide(results.get(str(row))) for row in batch[C.ROW]]
        return result_frame(batch, pd.Series([d[0] for d in decided]),
                            pd.Series([d[1] for d in decided], dtype="string"))


def _decide(result: dict[str, str] | None) -> tuple[str, str | None]:
    """Outcome and reason of one lead from its result."""
    if result is None:
        return "rejected", NO_ANSWER
    if result["status"] == "added":
        return "loaded", None
    if result["status"] == "exists":
        return "duplicate", ON_LIST
    return "rejected", result.get("detail") or "refused"
