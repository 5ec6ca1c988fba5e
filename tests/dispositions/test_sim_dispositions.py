"""The simulators' call results: deterministic and varied when on, off by default, settable per lead."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from simulators import engage_voice, nlpearl
from simulators.dispositions import ENGAGE_TABLE, SimDispositions, bucket
from simulators.server import serve

ENGAGE = "/voice/api/v1/admin/accounts/99990001"
AUTH = {"X-Auth-Token": "sim-engage-api-token"}


def test_hashed_results_are_stable_and_varied() -> None:
    table = SimDispositions(ENGAGE_TABLE)
    table.hashed = True
    phones = [f"415867{n:04d}" for n in range(2000)]
    states = Counter(table.fields(None, p).get("leadState", "READY") for p in phones)
    assert [table.fields(None, p) for p in phones[:50]] == [table.fields(None, p) for p in phones[:50]]
    assert bucket("+1 (415) 867-0001") == bucket("4158670001")
    assert set(states) == {"DO-NOT-CALL", "DISCONNECTED", "INTERCEPT", "COMPLETE", "ACTIVE", "READY"}
    assert 150 < states["DO-NOT-CALL"] < 250  # about 10 %


def test_engage_search_shows_results_only_once_on_or_set() -> None:
    with serve(engage_voice.create_app()) as sim, httpx.Client(base_url=sim.url, headers=AUTH) as client:
        body = {"description": "t", "uploadLeads": [{"externId": "E1", "leadPhone": "4158670001"},
                                                    {"externId": "E2", "leadPhone": "4158670002"}]}
        assert client.post(f"{ENGAGE}/campaigns/4001/leadLoader/direct", json=body).status_code == 200

        def states() -> dict[str, str]:
            found = client.post(f"{ENGAGE}/campaignLeads/leadSearch", json={"campaignIds": [4001]}).json()
            return {x["externId"]: x["leadState"] for x in found}

        assert states() == {"E1": "READY", "E2": "READY"}
        client.post("/_sim/dispositions", json={"leads": {"E2": {"leadState": "DO-NOT-CALL"}}})
        assert states() == {"E1": "READY", "E2": "DO-NOT-CALL"}
        client.post("/_sim/dispositions", json={"hashed": True})
        hashed = SimDispositions(ENGAGE_TABLE)
        hashed.hashed = True
        assert states()["E1"] == hashed.fields(None, "4158670001").get("leadState", "READY")
        assert client.post("/_sim/dispositions", json={"leads": ["E1"]}).status_code == 422


@pytest.mark.parametrize("status", [30, 100])
def test_nlpearl_lookup_shows_the_status_set(status: int) -> None:
    pearl = "6a27be5ae83373643a10ae34"
    auth = {"Authorization": "Bearer sim-account:sim-secret"}
    with serve(nlpearl.create_app()) as sim, httpx.Client(base_url=sim.url, headers=auth) as client:
        added = client.post(f"/v2/Outbound/{pearl}/Leads/Add",
                            json={"leads": [{"phoneNumber": "+14158670001", "externalId": "N1"}]})
        assert added.json() is True
        assert client.get(f"/v2/Outbound/{pearl}/Lead/External/N1").json()["status"] == 1
        client.post("/_sim/dispositions", json={"leads": {"14158670001": {"status": status}}})
        lead = client.get(f"/v2/Outbound/{pearl}/Lead/External/N1").json()
        assert lead["status"] == status and lead["lastCall"]["startTime"] == lead["created"]
        assert lead["callsId"] == [lead["lastCall"]["id"]]
