"""The load flow end to end: a CSV through every rule into the Engage Voice simulator over loopback."""

from __future__ import annotations

import csv
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from flows.load_leads import load_leads
from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.outcomes import OUTCOMES
from schemas.sources import SourceSpec
from simulators.engage_voice import create_app
from simulators.server import serve

pytestmark = pytest.mark.usefixtures("prefect_harness")

HEADER = ["Lead ID", "First Name", "Last Name", "Phone Number", "Other Phones", "Email", "State", "ZIP", "Plan"]
ROWS = [
    # row 1..: id, first, last, phone, other, email, state, zip, plan
    ["L1", "Ada", "Lovelace", "(415) 867-5309", "", "ada@example.com", "CA", "94105", "gold"],
    ["L2", "Alan", "Turing", "+1 212.736.4410", "", "alan@example.com", "NY", "10001", "silver"],
    ["L3", "Grace", "Hopper", "4158675309", "", "grace@example.com", "CA", "94105", "gold"],  # dup of row 1
    ["L4", "Edsger", "Dijkstra", "12345", "", "ed@example.com", "TX", "75001", ""],  # invalid phone
    ["L5", "Barbara", "Liskov", "617-253-1000", "", "not-an-email", "MA", "02139", ""],  # invalid email
    ["L6", "Donald", "Knuth", "650 723 2300", "", "don@example.com", "CA", "94305", ""],  # on DNC
    ["L7", "Margaret", "Hamilton", "303-492-1411", "7209385555|303.555.7788", "mh@example.com", "CO", "80309", ""],
    ["", "John", "Doe", "602-496-4636", "", "jd@example.com", "AZ", "85004", ""],  # no external id: invalid for Engage
    ["L9", "Frances", "Allen", "907-786-1800", "", "fa@example.com", "AK", "99508", "bronze"],
    ["L10", "Kathleen", "Booth", "808-956-8111", "", "kb@example.com", "HI", "96822", ""],
]
EXPECTED = {1: "loaded", 2: "loaded", 3: "duplicate", 4: "invalid", 5: "invalid", 6: "suppressed",
            7: "loaded", 8: "invalid", 9: "loaded", 10: "loaded"}


@pytest.fixture
def engage(clean_provider_env: pytest.MonkeyPatch) -> Iterator[str]:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    with serve(create_app()) as sim:
        yield sim.url


@pytest.fixture
def source(tmp_path: Path) -> SourceSpec:
    path = tmp_path / "leads.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    (tmp_path / "dnc.txt").write_text("6507232300\n")
    return SourceSpec(location=str(path))


def options(tmp_path: Path, base_url: str, **load: object) -> RunOptions:
    return RunOptions(
        rules=RuleOptions(dnc_files=[str(tmp_path / "dnc.txt")], window_gate=False),
        load=LoadOptions(base_url=base_url, backoff_s=0.01, **load),  # type: ignore[arg-type]
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        output_dir=str(tmp_path / "out"),
    )


def stored(base_url: str) -> list[dict[str, object]]:
    """Every lead the Engage simulator holds, over all accounts and campaigns."""
    accounts = httpx.get(f"{base_url}/_sim/leads").json()["accounts"]
    return [lead for campaigns in accounts.values() for leads in campaigns.values() for lead in leads]


def test_every_row_gets_its_expected_outcome(tmp_path: Path, engage: str, source: SourceSpec) -> None:
    result = load_leads(source=source, provider="engage-voice", campaign="4001", options=options(tmp_path, engage))

    assert result["status"] == "completed"
    assert result["rows_read"] == len(ROWS)
    assert sum(result["outcomes"].values()) == len(ROWS)
    assert set(result["outcomes"]) == set(OUTCOMES)
    outcomes = pd.read_csv(result["outcomes_file"], dtype=str)
    assert list(outcomes.columns[:7]) == ["row", "origin", "external_id", "phone", "outcome", "reason", "timezone"]
    assert dict(zip(outcomes["row"].astype(int), outcomes["outcome"], strict=True)) == EXPECTED
    reasons = dict(zip(outcomes["row"].astype(int), outcomes["reason"].fillna(""), strict=True))
    assert "row 1" in reasons[3]
    assert "email" in reasons[5]
    assert "external_id" in reasons[8]
    zones = dict(zip(outcomes["row"].astype(int), outcomes["timezone"].fillna(""), strict=True))
    assert "America/Los_Angeles" in zones[1]
    assert "Pacific/Honolulu" in zones[10]
    assert "America/Anchorage" in zones[9] or "America/Juneau" in zones[9]

    landed = stored(engage)
    assert sorted(str(x.get("externId")) for x in landed) == ["L1", "L10", "L2", "L7", "L9"]
    by_id = {str(x["externId"]): x for x in landed}
    assert by_id["L1"]["leadPhone"] == "4158675309"
    assert by_id["L1"]["leadPhoneE164"] == "+14158675309"
    assert str(by_id["L7"]["leadPhone"]).split("|") == ["3034921411", "7209385555", "3035557788"]

    report = json.loads(Path(result["report_file"]).read_text())
    keys = ("run_id", "provider", "campaign", "rows_read", "outcomes", "outcomes_file", "started_at", "finished_at")
    assert all(key in report for key in keys)
    assert report["outcomes"]["loaded"] == 5
    assert stat.S_IMODE(Path(result["outcomes_file"]).stat().st_mode) == 0o600


def test_rerun_loads_nothing_twice(tmp_path: Path, engage: str, source: SourceSpec) -> None:
    opts = options(tmp_path, engage)
    first = load_leads(source=source, provider="engage-voice", campaign="4001", options=opts)
    second = load_leads(source=source, provider="engage-voice", campaign="4001", options=opts)

    assert first["outcomes"]["loaded"] == 5
    assert second["outcomes"]["loaded"] == 0
    assert second["outcomes"]["duplicate"] == 6
    assert sum(second["outcomes"].values()) == len(ROWS)
    assert len(stored(engage)) == 5
    rows = pd.read_csv(second["outcomes_file"], dtype=str).set_index("row")
    assert "already loaded" in rows.loc["1", "reason"]


def test_dry_run_sends_nothing(tmp_path: Path, engage: str, source: SourceSpec) -> None:
    result = load_leads(source=source, provider="engage-voice", campaign="4001",
                        options=options(tmp_path, engage, dry_run=True))

    assert result["dry_run"] is True
    assert result["outcomes"]["loaded"] == 5
    assert sum(result["outcomes"].values()) == len(ROWS)
    assert stored(engage) == []
    received = httpx.get(f"{engage}/_sim/received").json()
    assert not [r for r in (received if isinstance(received, list) else received.get("requests", []))
                if "leadLoader" in str(r)]


def test_each_chunk_leaves_the_spool_once_sent(tmp_path: Path, engage: str, source: SourceSpec,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Spooled chunks are uncompressed, so none is kept longer than it is needed: a read chunk goes once
    prepared, a prepared one once its leads are sent; the spool is empty of chunks before the run removes it."""
    from tasks.spool import Spool

    left: list[list[str]] = []
    cleanup = Spool.cleanup

    def counted(spool: Spool) -> None:
        left.append(sorted(p.name for p in spool.path.glob("*.arrow")))
        cleanup(spool)

    monkeypatch.setattr(Spool, "cleanup", counted)
    written: list[str] = []
    write = Spool.write
    monkeypatch.setattr(Spool, "write", lambda spool, name, frame: written.append(name) or write(spool, name, frame))
    chunked = source.model_copy(update={"chunk_size": 3})
    result = load_leads(source=chunked, provider="engage-voice", campaign="4001", options=options(tmp_path, engage))

    assert result["status"] == "completed" and sum(result["outcomes"].values()) == len(ROWS)
    assert len([n for n in written if n.startswith("raw-")]) == -(-len(ROWS) // 3) > 1
    assert len([n for n in written if n.startswith("prep-")]) == len([n for n in written if n.startswith("raw-")])
    assert left == [[]]


def test_a_chunk_whose_sending_breaks_ends_each_lead_once_and_sends_nothing(
        tmp_path: Path, engage: str, source: SourceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk task's sending fails as a whole (before any batch is recorded): each of its batches ends
    with the error, settled against the ledger, and every lead still has exactly one outcome."""
    import tasks.delivery.tasks as delivery_tasks

    def broken(*_: object, **__: object) -> list[object]:
        raise RuntimeError("sending broke")

    monkeypatch.setattr(delivery_tasks, "first_attempts", broken)
    result = load_leads(source=source, provider="engage-voice", campaign="4001", options=options(tmp_path, engage))

    assert sum(result["outcomes"].values()) == len(ROWS) and result["balanced"]
    assert result["outcomes"]["loaded"] == 0 and result["outcomes"]["failed"] == 5
    rows = pd.read_csv(result["outcomes_file"], dtype=str).set_index("row")
    assert rows.loc["1", "outcome"] == "failed" and "RuntimeError" in rows.loc["1", "reason"]
    assert stored(engage) == []


def test_a_fault_after_the_request_went_out_leaves_delivery_unknown_and_sends_nothing_twice(
        tmp_path: Path, engage: str, source: SourceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """leadflow breaks on the dialer's answer (a fault of its own, not a provider error), after the leads
    landed: they end failed with delivery unknown and stay ``sending`` in the ledger, so the next run looks
    them up and sends none of them again."""
    from tasks.ledger import Ledger
    from tasks.providers.base import Provider

    def broken(self: Provider, response: httpx.Response) -> None:
        raise KeyError("a fault reading the answer")

    classify = Provider.classify
    monkeypatch.setattr(Provider, "classify", broken)
    opts = options(tmp_path, engage)
    first = load_leads(source=source, provider="engage-voice", campaign="4001", options=opts)

    assert first["balanced"] and first["outcomes"]["loaded"] == 0 and first["outcomes"]["failed"] == 5
    rows = pd.read_csv(first["outcomes_file"], dtype=str).set_index("row")
    assert "delivery unknown" in rows.loc["1", "reason"] and "KeyError" in rows.loc["1", "reason"]
    assert len(stored(engage)) == 5  # they landed
    ledger = Ledger(opts.resolved_ledger_url())
    assert len(ledger.unsettled_batches("engage-voice", None, "4001")) == 1
    monkeypatch.setattr(Provider, "classify", classify)

    second = load_leads(source=source, provider="engage-voice", campaign="4001", options=opts)
    assert second["balanced"] and second["outcomes"]["loaded"] == 0
    assert len(stored(engage)) == 5  # none of them sent again
    assert ledger.unsettled_batches("engage-voice", None, "4001") == []


def test_a_chunk_whose_rules_break_fails_the_run_with_every_lead_accounted_for(
        tmp_path: Path, engage: str, source: SourceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that raises fails the run with its error: nothing of that chunk or of any later one is sent,
    every lead the preparation left open ends ``failed``, and the counts add up."""
    import tasks.delivery.tasks as delivery_tasks
    from flows.load_leads import RunFailedError
    from tasks.ledger import Ledger

    ruled: list[int] = []

    def broken(df: pd.DataFrame, rules: object) -> pd.DataFrame:
        ruled.append(len(df))
        raise RuntimeError("a rule broke")

    monkeypatch.setattr(delivery_tasks, "apply_rules", broken)
    opts = options(tmp_path, engage)
    chunked = source.model_copy(update={"chunk_size": 3})
    with pytest.raises(RunFailedError, match="a rule broke"):
        load_leads(source=chunked, provider="engage-voice", campaign="4001", options=opts)
    assert stored(engage) == []
    run = Ledger(opts.resolved_ledger_url()).list_runs(1)[0]
    assert run["status"] == "failed" and sum(run["outcomes"].values()) == len(ROWS) == run["rows_read"]
    assert run["outcomes"]["loaded"] == 0 and run["outcomes"]["invalid"] == 3  # decided before the rules
    assert len(ruled) <= 3 < -(-len(ROWS) // 3)  # the chunks already out when the first failed, no more
    rows = pd.read_csv(Path(run["report_path"]).parent / "outcomes.csv", dtype=str).set_index("row")
    assert len(rows) == len(ROWS) and rows.index.is_unique
    assert "RuntimeError: a rule broke" in rows.loc["1", "reason"] and rows.loc["1", "outcome"] == "failed"


def test_a_chunk_whose_preparation_breaks_fails_the_run_with_every_lead_accounted_for(
        tmp_path: Path, engage: str, source: SourceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Preparing the second chunk raises: the first chunk is loaded, nothing from the second on is sent,
    their rows end ``failed`` with the error, and the counts add up."""
    import tasks.pipeline as pipeline
    from flows.load_leads import RunFailedError
    from tasks.ledger import Ledger

    prepare = pipeline.prepare

    def second_breaks(chunk: pd.DataFrame, *args: object) -> pd.DataFrame:
        if int(chunk["row"].min()) > 3:
            raise ValueError("preparing broke")
        return prepare(chunk, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "prepare", second_breaks)
    opts = options(tmp_path, engage)
    chunked = source.model_copy(update={"chunk_size": 3})
    with pytest.raises(RunFailedError, match="preparing broke"):
        load_leads(source=chunked, provider="engage-voice", campaign="4001", options=opts)
    run = Ledger(opts.resolved_ledger_url()).list_runs(1)[0]
    assert run["status"] == "failed" and sum(run["outcomes"].values()) == len(ROWS) == run["rows_read"]
    rows = pd.read_csv(Path(run["report_path"]).parent / "outcomes.csv", dtype=str).set_index("row")
    assert len(rows) == len(ROWS) and rows.index.is_unique
    assert rows.loc[["1", "2"], "outcome"].tolist() == ["loaded", "loaded"]  # the first chunk went out
    later = rows.loc[[str(r) for r in range(4, len(ROWS) + 1)]]
    assert set(later["outcome"]) == {"failed"} and later["reason"].str.contains("preparing broke").all()
    assert {str(lead.get("externId")) for lead in stored(engage)} == {"L1", "L2"}
