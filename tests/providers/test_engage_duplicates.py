"""Engage Voice duplicate handling as seed 002 has it, read back from ``leadsInserted``.

A lead the dialer dropped is ``duplicate`` (never ``loaded``); which leads were dropped is not in
the answer, so the client looks them up; the tests vary what the documents leave open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest
from providerhelp import Sim, by_row, deliver, lead_batch, phones

from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.errors import AmbiguousDeliveryError

RAE, RFL, RETAIN = "REMOVE_ALL_EXISTING", "REMOVE_FROM_LIST", "RETAIN_ALL"


def engage(start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], handling: str,
           **sim_config: Any) -> tuple[Sim, Provider]:
    sim = start_sim("engage-voice")
    if sim_config:
        sim.config(**sim_config)
    prov = make_provider("engage-voice", sim, duplicate_handling=handling)
    prov.prepare()
    return sim, prov


def stored(sim: Sim) -> list[str]:
    return sorted(str(x["externId"]) for x in sim.leads()["accounts"]["99990001"]["4001"])


def searches(sim: Sim) -> int:
    return sum(1 for r in sim.received() if str(r["path"]).endswith("/leadSearch"))


def outcomes(results: pd.DataFrame) -> dict[int, str]:
    return {row: outcome for row, (outcome, _) in by_row(results).items()}


@pytest.mark.parametrize("search_shape", ["list", "object"])
def test_remove_all_existing_drops_the_new_lead(search_shape: str, start_sim: Callable[[str], Sim],
                                                make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim, prov = engage(start_sim, make_provider, RAE, search_shape=search_shape)
    first = deliver(prov, ledger, lead_batch(phones(2), ids=["old-1", "old-2"]), batch_id="b1")
    assert set(first["outcome"]) == {"loaded"}
    assert searches(sim) == 0  # every accepted lead inserted: nothing to look up
    batch = lead_batch([phones(1)[0], *phones(2, 500)], ids=["new-1", "new-2", "new-3"], first_row=10)
    out = by_row(deliver(prov, ledger, batch, batch_id="b2"))
    assert out[10][0] == "duplicate"
    assert "REMOVE_ALL_EXISTING" in str(out[10][1])
    assert (out[11], out[12]) == (("loaded", None), ("loaded", None))
    assert stored(sim) == ["new-2", "new-3", "old-1", "old-2"]
    assert searches(sim) == 1


def test_remove_from_list_drops_repeats_inside_the_upload_only(start_sim: Callable[[str], Sim],
                                                                make_provider: Callable[..., Provider],
                                                                ledger: Ledger) -> None:
    sim, prov = engage(start_sim, make_provider, RFL)
    deliver(prov, ledger, lead_batch(phones(1), ids=["earlier"]), batch_id="b1")
    p = phones(2)
    batch = lead_batch([p[0], p[1], p[1]], ids=["again", "first", "repeat"], first_row=10)
    assert outcomes(deliver(prov, ledger, batch, batch_id="b2")) == {10: "loaded", 11: "loaded", 12: "duplicate"}
    assert stored(sim) == ["again", "earlier", "first"]


def test_retain_all_keeps_every_copy(start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider],
                                     ledger: Ledger) -> None:
    sim, prov = engage(start_sim, make_provider, RETAIN)
    deliver(prov, ledger, lead_batch(phones(2)), batch_id="b1")
    again = lead_batch(phones(2) + phones(1), ids=["x", "y", "z"], first_row=10)
    assert set(deliver(prov, ledger, again, batch_id="b2")["outcome"]) == {"loaded"}
    assert len(stored(sim)) == 5
    assert searches(sim) == 0


def test_a_lead_sent_again_under_its_own_id_counts_once(start_sim: Callable[[str], Sim],
                                                        make_provider: Callable[..., Provider],
                                                        ledger: Ledger) -> None:
    """Two copies of one lead in a batch (same id and phone): the search finds one, the counters say one."""
    _, prov = engage(start_sim, make_provider, RAE)
    batch = lead_batch([phones(1)[0]] * 2 + phones(1, 300), ids=["same", "same", "other"])
    assert outcomes(deliver(prov, ledger, batch)) == {1: "loaded", 2: "duplicate", 3: "loaded"}


@pytest.mark.parametrize("row_data", ["externId-phone", "phone", "empty"])
def test_rejected_rows_are_matched_whatever_row_data_holds(row_data: str, start_sim: Callable[[str], Sim],
                                                           make_provider: Callable[..., Provider],
                                                           ledger: Ledger) -> None:
    """``rowData`` of a JSON load is undocumented: matched by id, by phone, or by a look-up."""
    sim, prov = engage(start_sim, make_provider, RAE, rejected_row_data=row_data)
    deliver(prov, ledger, lead_batch(phones(1, 700), ids=["held"]), batch_id="b1")
    batch = lead_batch(["+14155550100", "+1415555", phones(1, 700)[0], "+14155550103"],
                       ids=["ok-1", "bad", "dup", "ok-2"], first_row=10)
    out = by_row(deliver(prov, ledger, batch, batch_id="b2"))
    assert {row: o for row, (o, _) in out.items()} == {10: "loaded", 11: "rejected", 12: "duplicate", 13: "loaded"}
    assert "Invalid phone number" in str(out[11][1])
    assert stored(sim) == ["held", "ok-1", "ok-2"]


@pytest.mark.parametrize("body", [{}, {"status": "ok"}, [], "OK"])
def test_a_2xx_without_a_processing_result_leaves_the_batch_open(body: Any, start_sim: Callable[[str], Sim],
                                                                 make_provider: Callable[..., Provider]) -> None:
    _, prov = engage(start_sim, make_provider, RAE)
    batch = lead_batch(phones(2))
    answer = httpx.Response(200, json=body, request=prov.build_request(batch))
    with pytest.raises(AmbiguousDeliveryError):
        prov.parse_response(batch, answer)


def test_answer_without_lead_counters_takes_every_lead_as_inserted(start_sim: Callable[[str], Sim],
                                                                   make_provider: Callable[..., Provider]) -> None:
    """Only ``processingResult`` and ``rejectedRows`` (an older spec could lack the counters)."""
    _, prov = engage(start_sim, make_provider, RAE)
    batch = lead_batch(phones(2))
    answer = httpx.Response(200, json={"processingResult": "OK", "rejectedRows": [
        {"message": "Invalid phone number", "rowData": ["crm-2", "4155550101"]}]}, request=prov.build_request(batch))
    assert outcomes(prov.parse_response(batch, answer)) == {1: "loaded", 2: "rejected"}
