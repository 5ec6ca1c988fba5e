"""Engage Voice simulator: auth and tokens, rate windows, the direct loader, discovery, search."""

from __future__ import annotations

from typing import Any

import pytest
from simhelp import ENGAGE_API_TOKEN, ENGAGE_LOADER, Sim, engage_body, engage_leads

ACCOUNT = "/voice/api/v1/admin/accounts/99990001"
EXCHANGE = "/api/auth/login/rc/accesstoken"


def login(engage: Sim) -> dict[str, Any]:
    response = engage.client.post(
        EXCHANGE, params={"includeRefresh": "true"},
        data={"rcAccessToken": "sim-rc-access-token", "rcTokenType": "Bearer"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(details: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {details['accessToken']}"}


def load(engage: Sim, leads: list[dict[str, Any]], handling: str = "RETAIN_ALL",
         path: str = ENGAGE_LOADER) -> dict[str, Any]:
    response = engage.client.post(path, headers=ENGAGE_API_TOKEN, json=engage_body(leads, handling))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_exchange_returns_account_and_token_that_loads(engage: Sim) -> None:
    details = login(engage)
    assert details["agentDetails"][0]["accountId"] == "99990001"
    assert details["mainAccountId"] == "99990000"
    assert details["refreshToken"]
    response = engage.client.post(ENGAGE_LOADER, headers=bearer(details),
                                  json=engage_body(engage_leads(3)))
    assert response.status_code == 200
    assert response.json()["leadsInserted"] == 3


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer nope"}, {"X-Auth-Token": "wrong"},
])
def test_loader_refuses_bad_credentials(engage: Sim, headers: dict[str, str]) -> None:
    response = engage.client.post(ENGAGE_LOADER, headers=headers, json=engage_body(engage_leads(1)))
    assert response.status_code == 401
    assert engage.leads()["accounts"] == {}


def test_exchange_refuses_wrong_rc_token(engage: Sim) -> None:
    response = engage.client.post(EXCHANGE, data={"rcAccessToken": "nope", "rcTokenType": "Bearer"})
    assert response.status_code == 401


def test_legacy_path_takes_x_auth_token_only(engage: Sim) -> None:
    legacy = ENGAGE_LOADER.removeprefix("/voice")
    assert load(engage, engage_leads(2), path=legacy)["leadsInserted"] == 2
    response = engage.client.post(legacy, headers=bearer(login(engage)),
                                  json=engage_body(engage_leads(1)))
    assert response.status_code == 401


def test_expired_token_then_refresh(engage: Sim) -> None:
    details = login(engage)
    engage.advance(301)
    response = engage.client.post(ENGAGE_LOADER, headers=bearer(details),
                                  json=engage_body(engage_leads(1)))
    assert response.status_code == 401
    assert response.text == "Jwt is expired"
    refreshed = engage.client.post("/api/auth/token/refresh",
                                   data={"refresh_token": details["refreshToken"]})
    assert refreshed.status_code == 200
    fresh = refreshed.json()
    assert fresh["accessToken"] != details["accessToken"]
    response = engage.client.post(ENGAGE_LOADER, headers=bearer(fresh),
                                  json=engage_body(engage_leads(1)))
    assert response.status_code == 200


def test_refresh_refuses_unknown_token(engage: Sim) -> None:
    response = engage.client.post("/api/auth/token/refresh", data={"refresh_token": "nope"})
    assert response.status_code == 401


def test_exchange_is_limited_to_five_a_minute(engage: Sim) -> None:
    for _ in range(5):
        login(engage)
    form = {"rcAccessToken": "sim-rc-access-token", "rcTokenType": "Bearer"}
    assert engage.client.post(EXCHANGE, data=form).status_code == 429
    engage.advance(61)
    assert engage.client.post(EXCHANGE, data=form).status_code == 200


def test_loader_enforces_both_documented_windows(engage: Sim) -> None:
    body = engage_body([])
    statuses = []
    for _ in range(4):
        statuses += [engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN, json=body).status_code
                     for _ in range(31)]
        engage.advance(10.5)
    assert statuses == ([200] * 30 + [429]) * 4
    throttled = engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN, json=body)
    assert throttled.status_code == 429
    assert "retry-after" not in throttled.headers
    assert throttled.json()["errorCode"]
    engage.advance(60)
    assert engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN, json=body).status_code == 200


def test_rate_limits_switch_off(engage: Sim) -> None:
    engage.configure(rate_limits=False)
    body = engage_body([])
    assert {engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN, json=body).status_code
            for _ in range(40)} == {200}


def test_rejected_rows_name_externid_and_phone(engage: Sim) -> None:
    leads = [
        {"externId": "ok", "leadPhone": "4155550100|4155550101"},
        {"externId": "short", "leadPhone": "12"},
        {"leadPhone": "4155550102"},
        {"externId": "nophone"},
        {"externId": "e164", "leadPhoneE164": "+14155550103"},
        {"externId": "bad164", "leadPhoneE164": "4155550104"},
    ]
    result = load(engage, leads)
    assert result["leadsSupplied"] == 6
    assert result["leadsAccepted"] == result["leadsInserted"] == 2
    assert result["processingResult"] == "OK"
    assert result["processingStatus"] == "DEFAULT_NOT_A_FAILURE"
    assert result["rejectedRows"] == [
        {"message": "Invalid phone number", "rowData": ["short", "12"]},
        {"message": "externId is required", "rowData": ["", "4155550102"]},
        {"message": "leadPhone is required", "rowData": ["nophone", ""]},
        {"message": "Invalid phone number", "rowData": ["bad164", "4155550104"]},
    ]


def test_no_valid_leads_reports_no_leads_passed_validation(engage: Sim) -> None:
    result = load(engage, [{"externId": "a", "leadPhone": "1"}])
    assert result["leadsAccepted"] == 0
    assert result["processingStatus"] == "NO_LEADS_PASSED_VALIDATION"


def test_retain_all_keeps_every_copy(engage: Sim) -> None:
    dupes = [{"externId": "a", "leadPhone": "4155550100"}, {"externId": "b", "leadPhone": "4155550100"}]
    assert load(engage, dupes)["leadsInserted"] == 2
    assert load(engage, dupes)["leadsInserted"] == 2
    assert len(engage.leads()["accounts"]["99990001"]["4001"]) == 4


def test_remove_from_list_removes_repeats_inside_the_upload_only(engage: Sim) -> None:
    """Seed 002: duplicates are looked for in the list being uploaded, not in earlier lists."""
    load(engage, engage_leads(2))
    repeat = [{"externId": "r0", "leadPhone": "4155550009"}, {"externId": "r1", "leadPhone": "4155550009"}]
    result = load(engage, engage_leads(3) + repeat, "REMOVE_FROM_LIST")
    assert (result["leadsAccepted"], result["leadsInserted"], result["rejectedRows"]) == (5, 4, [])
    stored = engage.leads()["accounts"]["99990001"]["4001"]
    assert sorted(lead["externId"] for lead in stored) == ["e0", "e0", "e1", "e1", "e2", "r0"]


def test_remove_all_existing_keeps_the_existing_lead_and_drops_the_new_one(engage: Sim) -> None:
    """Seed 002: the new lead goes in favour of an existing one loaded with REMOVE_ALL_EXISTING."""
    load(engage, engage_leads(2), "REMOVE_ALL_EXISTING")
    renamed = [{"externId": "new0", "leadPhone": "4155550000"}, {"externId": "new5", "leadPhone": "4155550005"}]
    result = load(engage, renamed, "REMOVE_ALL_EXISTING")
    assert (result["leadsAccepted"], result["leadsInserted"]) == (2, 1)
    assert (result["deletedCount"], result["hasDeletedLeads"], result["rejectedRows"]) == (0, False, [])
    stored = engage.leads()["accounts"]["99990001"]["4001"]
    assert sorted(lead["externId"] for lead in stored) == ["e0", "e1", "new5"]


def test_remove_all_existing_ignores_leads_loaded_another_way(engage: Sim) -> None:
    """Only leads that were themselves loaded with REMOVE_ALL_EXISTING block a new one."""
    load(engage, engage_leads(1), "RETAIN_ALL")
    load(engage, engage_leads(1, start=1), "REMOVE_FROM_LIST")
    result = load(engage, engage_leads(2), "REMOVE_ALL_EXISTING")
    assert result["leadsInserted"] == 2
    assert load(engage, engage_leads(2), "REMOVE_ALL_EXISTING")["leadsInserted"] == 0
    assert load(engage, engage_leads(2), "RETAIN_ALL")["leadsInserted"] == 2


def test_remove_all_existing_keeps_the_first_of_repeats_in_one_upload(engage: Sim) -> None:
    repeat = [{"externId": "a", "leadPhone": "4155550100"}, {"externId": "b", "leadPhone": "4155550100"}]
    assert load(engage, repeat, "REMOVE_ALL_EXISTING")["leadsInserted"] == 1
    assert [lead["externId"] for lead in engage.leads()["accounts"]["99990001"]["4001"]] == ["a"]


def test_bad_enum_gets_documented_error_body(engage: Sim) -> None:
    body = {**engage_body(engage_leads(1)), "duplicateHandling": "KEEP_SOME"}
    response = engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN, json=body)
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"errorCode", "generalMessage", "details", "requestUri", "timestamp"}
    assert "KEEP_SOME" in error["details"]
    assert error["requestUri"] == f"{ENGAGE_LOADER} - POST"


@pytest.mark.parametrize(("path", "status"), [
    (f"{ACCOUNT}/campaigns/abc/leadLoader/direct", 400),
    (f"{ACCOUNT}/campaigns/9999/leadLoader/direct", 404),
    ("/voice/api/v1/admin/accounts/~/campaigns/4001/leadLoader/direct", 404),
    ("/voice/api/v1/admin/accounts/12345/campaigns/4001/leadLoader/direct", 404),
])
def test_unknown_targets(engage: Sim, path: str, status: int) -> None:
    response = engage.client.post(path, headers=ENGAGE_API_TOKEN, json=engage_body(engage_leads(1)))
    assert response.status_code == status
    assert engage.leads()["accounts"] == {}


def test_token_for_another_account_is_forbidden(engage: Sim) -> None:
    accounts = [
        {"account_id": "99990001", "name": "One", "dial_groups": []},
        {"account_id": "99990002", "name": "Two", "dial_groups": []},
    ]
    engage.configure(accounts=accounts)
    response = engage.client.get("/voice/api/v1/admin/accounts/99990002/dialGroups",
                                 headers=bearer(login(engage)))
    assert response.status_code == 403
    assert response.json()["errorCode"] == "access.denied.exception"


def test_max_leads_per_request(engage: Sim) -> None:
    engage.configure(max_leads_per_request=5)
    response = engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN,
                                  json=engage_body(engage_leads(6)))
    assert response.status_code == 413
    assert load(engage, engage_leads(5))["leadsInserted"] == 5


def test_each_upload_makes_a_list_record(engage: Sim) -> None:
    load(engage, engage_leads(2))
    load(engage, engage_leads(1, start=5))
    lists = engage.leads()["lists"]
    assert [(x["listDesc"], x["campaignId"], x["leadsInserted"]) for x in lists] == [
        ("test list", 4001, 2), ("test list", 4001, 1)]
    assert lists[0]["listId"] != lists[1]["listId"]


def test_discovery(engage: Sim) -> None:
    headers = bearer(login(engage))
    accounts = engage.client.get("/voice/api/v1/admin/accounts", headers=headers).json()
    assert accounts[0]["accountId"] == "99990001"
    groups = engage.client.get(f"{ACCOUNT}/dialGroups", headers=headers).json()
    assert [g["dialGroupId"] for g in groups] == [115793, 115794]
    paged = engage.client.get(f"{ACCOUNT}/dialGroups", headers=headers,
                              params={"page": 1, "maxRows": 1}).json()
    assert [g["dialGroupId"] for g in paged] == [115794]
    campaigns = engage.client.get(f"{ACCOUNT}/dialGroups/115793/campaigns", headers=headers).json()
    assert [(c["campaignId"], c["isActive"]) for c in campaigns] == [(4001, 1), (4002, 1)]
    children = engage.client.get(f"{ACCOUNT}/dialGroups/withChildren", headers=headers).json()
    assert [c["campaignId"] for c in children[1]["campaigns"]] == [4003]
    missing = engage.client.get(f"{ACCOUNT}/dialGroups/1/campaigns", headers=headers)
    assert missing.status_code == 404


def test_lead_search(engage: Sim) -> None:
    load(engage, engage_leads(3))
    load(engage, engage_leads(1, start=7), path=ENGAGE_LOADER.replace("4001", "4002"))
    search = f"{ACCOUNT}/campaignLeads/leadSearch"

    def find(criteria: dict[str, Any]) -> list[tuple[str, int]]:
        response = engage.client.post(search, headers=ENGAGE_API_TOKEN, json=criteria)
        assert response.status_code == 200
        return sorted((x["externId"], x["campaignId"]) for x in response.json())

    assert find({"externIds": ["e1", "e7"]}) == [("e1", 4001), ("e7", 4002)]
    assert find({"externIds": ["e1", "e7"], "campaignIds": [4002]}) == [("e7", 4002)]
    assert find({"leadPhoneNumbers": ["4155550002"]}) == [("e2", 4001)]
    found = engage.client.post(search, headers=ENGAGE_API_TOKEN, json={"externIds": ["e0"]}).json()
    assert {"leadId", "leadState", "listId", "leadPhone"} <= set(found[0])


def test_lead_search_shapes_and_default_page(engage: Sim) -> None:
    """The 200 body of leadSearch is declared only as an object: the simulator varies it."""
    load(engage, engage_leads(5))
    search = f"{ACCOUNT}/campaignLeads/leadSearch"
    engage.configure(search_shape="object", search_default_rows=2)
    body = engage.client.post(search, headers=ENGAGE_API_TOKEN, json={"campaignIds": [4001]}).json()
    assert body["totalCount"] == 5
    assert [x["externId"] for x in body["results"]] == ["e0", "e1"]
    page = engage.client.post(search, headers=ENGAGE_API_TOKEN, json={}, params={"page": 2, "maxRows": 2}).json()
    assert [x["externId"] for x in page["results"]] == ["e4"]


def rc_token(engage: Sim, form: dict[str, str], client: tuple[str, str] = ("sim-rc-client-id", "sim-rc-client-secret"),
             ) -> Any:
    return engage.client.post("/restapi/oauth/token", data=form, auth=client)


JWT = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "sim-rc-jwt"}
PASSWORD = {"grant_type": "password", "username": "admin@example.com", "password": "sim-rc-password",
            "extension": "101"}


@pytest.mark.parametrize("form", [JWT, PASSWORD], ids=["jwt", "password"])
def test_ringcentral_token_endpoint_issues_a_token_the_exchange_takes(engage: Sim, form: dict[str, str]) -> None:
    answer = rc_token(engage, form)
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert (info["token_type"], info["expires_in"]) == ("bearer", 3600)
    exchange = engage.client.post(EXCHANGE, data={"rcAccessToken": info["access_token"], "rcTokenType": "Bearer"})
    assert exchange.status_code == 200
    engage.advance(3601)
    late = engage.client.post(EXCHANGE, data={"rcAccessToken": info["access_token"], "rcTokenType": "Bearer"})
    assert late.status_code == 401


@pytest.mark.parametrize(("form", "client", "status", "error"), [
    (JWT, ("sim-rc-client-id", "wrong"), 401, "invalid_client"),
    ({**JWT, "assertion": "forged"}, None, 400, "invalid_grant"),
    ({**PASSWORD, "extension": "102"}, None, 400, "invalid_grant"),
    ({**PASSWORD, "password": "nope"}, None, 400, "invalid_grant"),
    ({"grant_type": "client_credentials"}, None, 400, "unsupported_grant_type"),
])
def test_ringcentral_token_endpoint_refuses_bad_logins(engage: Sim, form: dict[str, str],
                                                       client: tuple[str, str] | None, status: int, error: str) -> None:
    answer = rc_token(engage, form, client) if client else rc_token(engage, form)
    assert answer.status_code == status
    assert answer.json()["error"] == error


def test_lead_search_has_its_own_windows(engage: Sim) -> None:
    search = f"{ACCOUNT}/campaignLeads/leadSearch"
    statuses = [engage.client.post(search, headers=ENGAGE_API_TOKEN, json={}).status_code
                for _ in range(16)]
    assert statuses == [200] * 15 + [429]
    assert engage.client.post(ENGAGE_LOADER, headers=ENGAGE_API_TOKEN,
                              json=engage_body([])).status_code == 200
