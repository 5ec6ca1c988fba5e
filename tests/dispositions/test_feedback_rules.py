"""The internal do-not-call list and the reached cooldown as rules over a chunk; their tables on both ledgers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from schemas.dispositions import ProviderMapping, actions
from tasks.ledger import Ledger
from tasks.ledger_feedback import Feedback
from tasks.rules.feedback import cool_down_reached, suppress_internal

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def chunk(keys: list[int], outcome: list[str | None] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"row": np.arange(1, len(keys) + 1), "phone_key": keys,
                         "phone_e164": [f"+{k}" for k in keys],
                         "outcome": pd.Series(outcome or [None] * len(keys), dtype="string"),
                         "reason": pd.Series([None] * len(keys), dtype="string")})


def listed(*entries: tuple[int, str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({"phone_key": [k for k, _, _ in entries], "reason": [r for _, r, _ in entries],
                         "provider": "engage-voice", "campaign": "4001", "state": [s for _, _, s in entries],
                         "disposition": [None] * len(entries), "added_at": NOW})


def test_internal_list_suppresses_only_pending_leads_on_it() -> None:
    df = chunk([14155550101, 14155550102, 14155550103, 0], [None, None, "invalid", None])
    out = suppress_internal(df, listed((14155550101, "dnc", "DO-NOT-CALL"), (14155550103, "bad_number", None),
                                       (19999999999, "bad_number", "DISCONNECTED")))
    assert out["outcome"].fillna("-").tolist() == ["suppressed", "-", "invalid", "-"]
    assert out["reason"][0] == ("on the internal do-not-call list: asked not to be called "
                                "(engage-voice/4001 DO-NOT-CALL on 2026-12-06)")
    assert pd.isna(out["reason"][1])


def test_reached_phones_are_duplicates_naming_the_reach() -> None:
    reached = pd.DataFrame({"phone_key": [14155550102], "provider": ["nlpearl"], "campaign": ["p1"],
                            "state": ["Success"], "disposition": [None], "disposition_at": [NOW]})
    out = cool_down_reached(chunk([14155550101, 14155550102]), reached, 30)
    assert pd.isna(out["outcome"][0]) and out["outcome"][1] == "duplicate"
    assert out["reason"][1] == "reached by nlpearl/p1 Success on 2026-12-06 (cooldown 30 days, every provider)"


def test_actions_take_the_stronger_of_state_and_disposition() -> None:
    mapping = ProviderMapping(state={"COMPLETE": "reached", "DISCONNECTED": "bad_number"},
                              disposition={"dnc": "dnc", "answer": "reached"})
    got = actions(mapping, pd.Series(["complete", "COMPLETE", "ACTIVE", None, "DISCONNECTED"]),
                  pd.Series(["DNC", None, "Answer", None, "ANSWER"]))
    assert got.tolist() == ["dnc", "reached", "reached", "none", "bad_number"]


def test_feedback_tables_on_both_databases(ledger_url: str) -> None:
    _feedback_tables(ledger_url)


def test_feedback_tables_on_mariadb() -> None:
    """MariaDB takes the same bulk upserts (ON DUPLICATE KEY UPDATE), not a statement per lead."""
    name = f"lf_fb_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/mysql")
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        _feedback_tables(f"mysql+pymysql://root@127.0.0.1:3306/{name}")
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP DATABASE {name}")
        admin.dispose()


def _feedback_tables(ledger_url: str) -> None:
    feedback = Feedback(Ledger(ledger_url))
    frame = pd.DataFrame({"phone_key": [14155550101, 14155550102, 14155550103], "external_id": ["a", "b", "c"],
                          "state": ["DO-NOT-CALL", "COMPLETE", "READY"], "disposition": ["DNC", "ANSWER", None],
                          "passes": pd.array([1, 2, None], dtype="Int64"), "action": ["dnc", "reached", "none"],
                          "disposition_at": [NOW, NOW - timedelta(days=3), pd.NaT]})
    assert feedback.record(frame, provider="engage-voice", account="1", campaign="4001", sync_id="s1") == 1
    # The same phones again: the dispositions are replaced, the list keeps the first entry.
    again = frame.assign(action=["bad_number", "none", "dnc"], state=["DISCONNECTED", "ACTIVE", "DO-NOT-CALL"])
    assert feedback.record(again, provider="engage-voice", account="1", campaign="4001", sync_id="s2") == 1
    kept = feedback.campaign_dispositions("engage-voice", "4001").set_index("external_id")
    assert kept["action"].to_dict() == {"a": "bad_number", "b": "none", "c": "dnc"}
    assert set(kept["sync_id"]) == {"s2"} and kept.loc["b", "passes"] == 2
    dnc = feedback.dnc_list().set_index("phone_key")
    assert dnc["reason"].to_dict() == {14155550101: "dnc", 14155550103: "dnc"}
    assert feedback.reached_since(NOW - timedelta(days=30)).empty
    feedback.record(frame.iloc[[1]], provider="nlpearl", account=None, campaign="p1", sync_id="s3")
    reached = feedback.reached_since(NOW - timedelta(days=30))
    assert reached[["phone_key", "provider"]].values.tolist() == [[14155550102, "nlpearl"]]
    assert feedback.reached_since(NOW - timedelta(days=1)).empty


@pytest.mark.parametrize("count", [0, 12_001])
def test_record_in_bulk(tmp_path: object, count: int) -> None:
    feedback = Feedback(Ledger(f"sqlite:///{tmp_path}/l.db"))
    keys = 14150000000 + np.arange(count)
    frame = pd.DataFrame({"phone_key": keys, "external_id": [f"x{i}" for i in range(count)], "state": "DISCONNECTED",
                          "disposition": None, "passes": pd.array([1] * count, dtype="Int64"),
                          "action": "bad_number", "disposition_at": NOW})
    assert feedback.record(frame, provider="nlpearl", account=None, campaign="p", sync_id="s") == count
    assert len(feedback.dnc_list()) == count
