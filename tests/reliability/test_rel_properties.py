"""Property tests of the accounting: random leads, lists and provider answers; every row ends with one outcome."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from profiles import examples
from relhelp import CAMPAIGNS, SimView, assert_balanced, phone, run_options, write_csv

from flows.load_leads import load_leads
from schemas import columns as C
from schemas.options import LoadOptions, RuleOptions
from schemas.outcomes import OUTCOMES
from schemas.sources import SourceSpec
from tasks.delivery.attempt import deliver_batch, give_up
from tasks.delivery.context import Delivery
from tasks.dnc_lists import load_dnc_lists
from tasks.ledger import Ledger
from tasks.providers.errors import FatalProviderError, RetriableProviderError
from tasks.providers.registry import create_provider
from tasks.rules.dedup import find_duplicates
from tasks.rules.phones import phone_key
from tasks.stages import RuleContext, apply_rules, dedup_keys, prepare

POOL = [phone(i) for i in range(6)]  # few distinct numbers, so duplicates are common
BAD_PHONES = ["", "12345", "555-0100", "not a phone", "+44 20", "4" * 30, "212-555-01"]
FAULTS = st.sampled_from([
    {"status": 429, "retry_after": 0}, {"status": 503}, {"status": 500}, {"status": 502, "after_store": True},
    {"drop": True}, {"drop": True, "after_store": True}, {"whole_batch_400": True}, {"partial": 0.5},
    {"partial": 0.0}, {"delay_s": 0.05},
])
PLANS = st.lists(st.builds(lambda f, n: {**f, "times": n}, FAULTS, st.integers(1, 2)), max_size=4)


@st.composite
def leads(draw: st.DrawFn, max_size: int = 12) -> list[list[str]]:
    """Rows of (external id, first, last, phone, e-mail): valid, invalid and repeated phones, missing ids."""
    count = draw(st.integers(1, max_size))
    rows = []
    for i in range(count):
        number = draw(st.one_of(st.sampled_from(POOL), st.sampled_from(BAD_PHONES)))
        ident = draw(st.sampled_from([f"P{i}", f"P{i}", f"P{i}", ""]))
        email = draw(st.sampled_from([f"p{i}@example.com", "", "broken@"]))
        rows.append([ident, "Pat", "Lee", number, email])
    return rows


DNC = st.sets(st.sampled_from(POOL), max_size=3)


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None)
@given(rows=leads(max_size=25), dnc=DNC, loaded=st.sets(st.sampled_from(POOL), max_size=2))
def test_stages_keep_every_row_and_give_at_most_one_outcome(rows: list[list[str]], dnc: set[str],
                                                          loaded: set[str]) -> None:
    chunk = pd.DataFrame(rows, columns=[C.EXTERNAL_ID, C.FIRST_NAME, C.LAST_NAME, C.PHONE, C.EMAIL], dtype="string")
    chunk = chunk.mask(chunk == "")
    chunk.insert(0, C.ROW, range(1, len(rows) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "dnc.txt").write_text("\n".join(dnc) + "\n")
        lists = load_dnc_lists([str(Path(tmp) / "dnc.txt")]) if dnc else {}
    df = prepare(chunk, RuleOptions(), "engage-voice")
    dups = find_duplicates(dedup_keys(df))
    keys = phone_key(pd.Series([f"+1{p}" for p in sorted(loaded)], dtype="string"))
    ledger = pd.DataFrame({"phone_key": keys.astype("int64"), "provider": "engage-voice", "campaign": "4001",
                           "loaded_at": pd.Timestamp.now(tz="UTC"), "run_id": "earlier"})
    out = apply_rules(df, RuleContext(rules=RuleOptions(), duplicates=dups, loaded=ledger, dnc=lists,
                                      window_gate=False))

    assert out[C.ROW].tolist() == chunk[C.ROW].tolist()
    assert set(out[C.OUTCOME].dropna()) <= set(OUTCOMES)
    assert out.loc[out[C.OUTCOME].notna(), C.REASON].notna().all()
    ready = out[out[C.OUTCOME].isna()]
    national = ready[C.PHONE_E164].str.removeprefix("+1")
    assert not national.isin(dnc | loaded).any()
    assert not ready["phone_key"].duplicated().any()
    assert ready[C.EXTERNAL_ID].notna().all()
    assert (out.loc[out[C.OUTCOME] == "suppressed", C.PHONE_E164].str.removeprefix("+1").isin(dnc)).all()


def _batch(rows: int) -> pd.DataFrame:
    e164 = pd.Series([f"+1{phone(100 + i)}" for i in range(rows)], dtype="string")
    return pd.DataFrame({C.ROW: range(1, rows + 1), C.PHONE_E164: e164,
                         C.EXTERNAL_ID: pd.Series([f"B{i}" for i in range(rows)], dtype="string"),
                         "phone_key": phone_key(e164)})


@pytest.mark.slow
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 6), plan=PLANS, attempts=st.integers(1, 4))
def test_a_batch_settles_every_lead_once_under_any_answers(sims: dict[str, SimView], size: int,
                                                           plan: list[dict[str, Any]], attempts: int) -> None:
    view = sims["engage-voice"]
    view.app.sim.reset()
    view.faults(*plan)
    batch = _batch(size)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(f"sqlite:///{tmp}/l.db")
        provider = create_provider("engage-voice", campaign="4001", account=None, load=LoadOptions(
            base_url=view.url, timeout_s=2, provider_options={"duplicate_handling": "RETAIN_ALL"}))
        provider.prepare()
        ledger.open_batch("b", run_id="r", provider=provider.name, account=provider.account,
                          campaign=provider.campaign, batch=batch)
        results, error = _deliver(provider, ledger, batch, attempts)
        if results is None:
            results = give_up(ledger, "b", error)
        unknown = set(ledger.batch_leads("b").query("status == 'sending'")["external_id"])
        provider.client.close()
        ledger.engine.dispose()
    view.wait_idle()

    assert sorted(results[C.ROW]) == list(range(1, size + 1))
    assert set(results[C.OUTCOME]) <= {"loaded", "rejected", "failed"}
    stored = Counter(view.stored_keys())
    assert max(stored.values(), default=1) == 1, stored
    loaded = set(batch.loc[batch[C.ROW].isin(results.loc[results[C.OUTCOME] == "loaded", C.ROW]), C.EXTERNAL_ID])
    assert loaded <= set(stored)
    assert set(stored) <= loaded | unknown


def _deliver(provider: Any, ledger: Ledger, batch: pd.DataFrame,
             attempts: int) -> tuple[pd.DataFrame | None, BaseException | None]:
    """Attempts as the load task's retries make them; the results, or the last error."""
    error: BaseException | None = None
    for _ in range(attempts):
        try:
            ctx = Delivery.create(provider, ledger, LoadOptions(max_backoff_s=0.1, timeout_s=2, rate_limits=False),
                                  run_id="r")
            results = deliver_batch(ctx, batch, "b")
        except RetriableProviderError as ex:
            error = ex
            continue
        except FatalProviderError as ex:
            return None, ex
        if not (results[C.OUTCOME] == "sending").any():
            return results, None
    return None, error


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")  # it runs the flow: on this session's server, not an ephemeral one
@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=leads(), dnc=DNC, plan=PLANS, batch_size=st.integers(1, 4))
def test_a_run_accounts_for_every_row_under_any_answers(sims: dict[str, SimView], rows: list[list[str]],
                                                        dnc: set[str], plan: list[dict[str, Any]],
                                                        batch_size: int) -> None:
    view = sims["engage-voice"]
    view.app.sim.reset()
    view.faults(*plan)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        source = SourceSpec(location=str(write_csv(tmp / "leads.csv", rows)))
        opts = run_options(tmp, view.url, batch_size=batch_size, max_attempts=3, timeout_s=2,
                           provider_options={"duplicate_handling": "RETAIN_ALL"})
        if dnc:
            (tmp / "dnc.txt").write_text("\n".join(dnc) + "\n")
            opts.rules.dnc_files.append(str(tmp / "dnc.txt"))
        result = load_leads(source=source, provider="engage-voice", campaign=CAMPAIGNS["engage-voice"], options=opts)
        table = assert_balanced(result, len(rows))
    view.wait_idle()

    stored = view.stored()
    assert max(Counter(x["externId"] for x in stored).values(), default=1) == 1
    assert not {str(x["leadPhone"]).split("|")[0] for x in stored} & dnc
    assert set(table.loc[table["outcome"] == "loaded", "external_id"]) <= {x["externId"] for x in stored}
    sent_back = {x["externId"] for x in stored} - set(table.loc[table["outcome"] == "loaded", "external_id"])
    assert set(table.loc[table["external_id"].isin(sent_back), "outcome"]) <= {"failed"}
