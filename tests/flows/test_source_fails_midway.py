"""A source that fails after some chunks: the chunks already read (and being prepared) end as failed."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from flows.load_leads import RunFailedError, load_leads
from schemas.options import LoadOptions, RunOptions
from schemas.sources import SourceSpec

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_rows_read_before_a_bad_row_are_failed_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "phone", "state", "zip"])
        out.writerows([[f"L{i}", f"212555{1000 + i}", "NY", "10001"] for i in range(1, 26)])
        fh.write("L26,2125551026,NY,10001,surplus\n")
    opts = RunOptions(load=LoadOptions(dry_run=True), ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                      output_dir=str(tmp_path / "out"), outcomes_path=str(tmp_path / "outcomes.csv"))
    with pytest.raises(RunFailedError, match="source error"):
        load_leads(source=SourceSpec(location=str(path), chunk_size=10), provider="engage-voice",
                   campaign="4001", options=opts)
    outcomes = pd.read_csv(tmp_path / "outcomes.csv", dtype=str)
    assert outcomes["row"].astype(int).tolist() == list(range(1, 21))
    assert set(outcomes["outcome"]) == {"failed"}
    assert outcomes["reason"].str.contains("row 26").all()
