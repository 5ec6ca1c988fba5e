"""The benchmark end to end at a small N, and the fast paths it relies on (CSV, JSON and the ledger's batch records)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from benchmarks import run, tables
from benchmarks.limits import window_floor
from schemas import columns as C
from schemas.outcomes import OUTCOMES
from tasks.ledger import Ledger
from tasks.outcomes_file import csv_lines
from tasks.payload import json_records

ROWS = 2_000


@pytest.mark.slow
@pytest.mark.timeout(900)  # three providers, four campaigns, a Dask cluster and a stream, on a shared machine
@pytest.mark.usefixtures("prefect_harness")
def test_benchmark_smoke(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL

    out = tmp_path / "result.json"
    code = run.main(["--rows", str(ROWS), "--several-rows", "1000", "--dask-rows", "1000", "--repeat", "1",
                     "--sim-posts", "2", "--stream-rows", "3000", "--no-warmup", "--data-dir", str(tmp_path),
                     "--json", str(out),
                     "--prefect-api", str(PREFECT_API_URL.value())])
    result = json.loads(out.read_text())
    assert code == 0
    assert {"machine", "pinning", "providers", "baseline", "several", "dask", "simulator", "stream"} <= set(result)

    assert [p["provider"] for p in result["providers"]] == ["engage-voice", "nlpearl", "voiso"]
    for flow in result["providers"]:
        assert flow["status"] == "completed" and flow["balanced"], flow["label"]
        assert flow["rows"] == ROWS and sum(flow["outcomes"].values()) == ROWS
        assert set(flow["outcomes"]) == set(OUTCOMES)
        for outcome in ("loaded", "invalid", "duplicate", "suppressed"):  # every rule had work to do
            assert flow["outcomes"][outcome] > 0, outcome
        assert flow["over_limits"] == 0 and flow["most_in_flight"] >= 1 and flow["load_requests"] >= 1
        assert 0 < flow["busy_s"] < flow["wall_s"]
        assert flow["overhead_s"] == pytest.approx(flow["wall_s"] - flow["busy_s"])
        assert flow["peak_rss_mb"] > 0 and flow["cpu_s"] > 0
    engage, pearl, voiso = result["providers"]
    assert "Rule and send chunk" in engage["stages"]
    assert pearl["most_in_flight"] == 1 and "floor_s" not in pearl
    assert voiso["load_requests"] == 2 and voiso["most_in_flight"] == 1  # 1,000 leads a request, one at a time
    for limited in (engage, voiso):
        assert limited["startup_s"] > 0 and limited["floor_s"] > limited["startup_s"]
    assert voiso["floor_s"] > voiso["startup_s"] + 2.0  # the documented 2 s between imports

    base = result["baseline"]
    assert base["rules"] == "all" and base["rows"] == ROWS
    assert sum(v for k, v in base["counts"].items() if k not in ("requests", "throttled")) == ROWS
    assert base["counts"]["suppressed"] > 0  # the DNC file reached it

    several = result["several"]
    assert len(several["runs"]) == 4 and all(r["balanced"] and r["over_limits"] == 0 for r in several["runs"])
    # First start to last end, from the runs' own start times and walls: the longest run, to float rounding.
    assert several["wall_s"] >= max(r["wall_s"] for r in several["runs"]) - 1e-3
    assert result["dask"]["balanced"] and result["dask"]["on_dask"] > 0
    assert result["dask"]["worker_sees_flow_tmp"] is False

    for mode in ("sequential", "4_in_flight"):
        assert result["simulator"][mode]["busy_ms_per_request"] > 0
    stream = result["stream"]
    assert stream["rows"] == 3_000 == sum(stream["outcomes"].values())
    assert stream["peak_rss_mb"] > 0
    table = tables.table(result)
    assert "| Engage Voice | 2,000 |" in table and "Four campaigns at once" in table


def test_floor_of_the_engage_windows() -> None:
    """30 requests in 10 s and 120 in 60 s: 200 requests cannot arrive in less than 80 s (120 by 30 s, 30 more
    at 60 s and at 70 s, the last 20 at 80 s)."""
    windows = [(30, 10.0), (120, 60.0)]
    assert window_floor(1, windows) == 0.0
    assert window_floor(30, windows) == 0.0 and window_floor(31, windows) == 10.0
    assert window_floor(120, windows) == 30.0 and window_floor(121, windows) == 60.0
    assert window_floor(200, windows) == 80.0


def _messy_frame() -> pd.DataFrame:
    """Arrow-backed columns in several chunks, with nulls, quotes, commas, line breaks and non-ASCII."""
    def chunked(*parts: list[object]) -> pd.Series:
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(list(parts))))

    return pd.DataFrame({
        "row": chunked([1, 2, 3], [4, 5]),
        "text": chunked(["a", 'say "hi"', None], ["x,y", "line\nbreak"]),
        "plain": pd.Series(["Zoë", "", "=1+2", None, "back\\slash"], dtype="string"),
        "n": pd.array([7, None, -1, 0, 2**40], dtype="Int64"),
        "flag": pd.array([True, None, False, True, False], dtype="boolean"),
    })


def test_csv_lines_falls_back_to_to_csv_for_other_types() -> None:
    frame = pd.DataFrame({"x": [1.0, None], "t": pd.to_datetime(pd.Series(["2026-01-01", None]), utc=True)})
    expected = io.StringIO()
    frame.to_csv(expected, header=False, index=False)
    assert csv_lines(frame) == expected.getvalue()


def test_csv_lines_writes_what_to_csv_writes() -> None:
    frame = _messy_frame()
    expected = io.StringIO()
    frame.to_csv(expected, header=False, index=False)
    assert csv_lines(frame) == expected.getvalue()


def test_json_records_match_one_dict_per_row() -> None:
    frame = _messy_frame()
    body = json.loads(json_records(frame, nested={"data": ["plain", "flag"]}))
    expected = []
    for rec in frame.astype(object).to_dict("records"):
        keep = {k: v for k, v in rec.items() if not pd.isna(v)}
        top = {k: v for k, v in keep.items() if k not in ("plain", "flag")}
        expected.append({**top, "data": {k: v for k, v in keep.items() if k in ("plain", "flag")}})
    assert body == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_ledger_batch_records(backend: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    if backend == "mariadb":
        schema = f"lf_bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/mysql")
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE DATABASE {schema}")
        url = f"mysql+pymysql://root@127.0.0.1:3306/{schema}"
    if backend == "postgresql":
        schema = f"lf_bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    try:
        ledger = Ledger(url)
        rows = np.arange(1, 12_001)
        batch = pd.DataFrame({C.ROW: rows, "phone_key": rows + 12_025_550_000,
                              C.EXTERNAL_ID: pd.array([None if r % 7 == 0 else f"L'{r}" if r % 5 else f'Zoë "{r}"\\'
                                                       for r in rows], dtype="string")})
        ledger.open_batch("b1", run_id="r", provider="p", account=None, campaign="c", batch=batch)
        ledger.open_batch("b2", run_id="r", provider="p", account=None, campaign="c", batch=batch.head(3))
        recorded = ledger.batch_leads("b1")
        assert recorded["row"].tolist() == rows.tolist() and set(recorded["status"]) == {"sending"}
        assert recorded["external_id"].isna().sum() == (rows % 7 == 0).sum()
        assert recorded.loc[recorded["row"] == 10, "external_id"].item() == 'Zoë "10"\\'
        assert recorded["phone_key"].tolist() == (rows + 12_025_550_000).tolist()
        outcome = np.where(rows % 1000 == 0, "rejected", "loaded")
        given = [*outcome[:-1], "loaded"]  # every row but the last, and a row of no batch
        results = pd.DataFrame({C.ROW: [*rows[:-1], 99_999], C.OUTCOME: given,
                                C.REASON: [None if o == "loaded" else "bad number" for o in given]})
        ledger.settle_leads("b1", results)
        after = ledger.batch_leads("b1").set_index("row")
        assert after.loc[12_000, "status"] == "sending"  # not in the results: untouched
        assert (after.loc[rows[:-1], "status"].to_numpy() == outcome[:-1]).all()
        assert set(after.loc[after["status"] == "rejected", "reason"]) == {"bad number"}
        assert set(ledger.batch_leads("b2")["status"]) == {"sending"}  # the other batch's rows 1-3 untouched
        assert ledger.unsettled_batches("p", None, "c") == ["b1", "b2"]
        ledger.settle_leads("b1", pd.DataFrame({C.ROW: [12_000], C.OUTCOME: ["failed"], C.REASON: ["gave up"]}))
        assert ledger.unsettled_batches("p", None, "c") == ["b2"]
        # Some leads loaded: a row of no batch is ignored, the lead left out stays sending, b1 is untouched.
        ledger.settle_leads("b2", pd.DataFrame({C.ROW: [1, 2, 99_999], C.OUTCOME: "loaded", C.REASON: None}))
        assert ledger.batch_leads("b2")["status"].tolist() == ["loaded", "loaded", "sending"]
        assert ledger.unsettled_batches("p", None, "c") == ["b2"]
        ledger.settle_leads("b2", pd.DataFrame({C.ROW: [3], C.OUTCOME: ["loaded"], C.REASON: [None]}))
        assert ledger.unsettled_batches("p", None, "c") == []
        assert ledger.batch_leads("b1").set_index("row").loc[[1, 2, 3], "status"].tolist() == ["loaded"] * 3
        # Every lead of a batch loaded at once (its statuses are written without being read).
        ledger.open_batch("b3", run_id="r", provider="p", account=None, campaign="c", batch=batch.tail(4))
        ledger.settle_leads("b3", pd.DataFrame({C.ROW: rows[-4:][::-1], C.OUTCOME: "loaded", C.REASON: "ignored"}))
        third = ledger.batch_leads("b3")
        assert third["row"].tolist() == rows[-4:].tolist() and set(third["status"]) == {"loaded"}
        assert third["reason"].isna().all() and ledger.unsettled_batches("p", None, "c") == []
        ledger.engine.dispose()
    finally:
        if backend in ("postgresql", "mariadb"):
            with admin.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE" if backend == "postgresql"
                                  else f"DROP DATABASE {schema}")
            admin.dispose()
