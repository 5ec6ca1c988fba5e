"""Helpers for the reliability tests: lead files, run options, simulator views and the accounting checks."""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.outcomes import OUTCOMES
from schemas.sources import SourceSpec
from simulators.app import SimApp

ENGAGE_ACCOUNT = "99990001"
ENGAGE_CAMPAIGN = "4001"
PEARL = "6a27be5ae83373643a10ae34"
VOISO_CAMPAIGN = "3"
#: Campaign id per provider, as the flow takes it.
CAMPAIGNS = {"engage-voice": ENGAGE_CAMPAIGN, "nlpearl": PEARL, "voiso": VOISO_CAMPAIGN}
#: The simulators' default credentials, as the providers read them from the environment.
CREDENTIALS = {
    "ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token",
    "NLPEARL_ACCOUNT_ID": "sim-account",
    "NLPEARL_SECRET_KEY": "sim-secret",
    "VOISO_API_KEY": "sim-voiso-key",
}
HEADER = ["Lead ID", "First Name", "Last Name", "Phone", "Email"]
_AREAS = ("415", "212", "312", "617", "303", "206", "512", "404")


def phone(i: int) -> str:
    """A distinct, valid US number for each ``i`` (national digits)."""
    return f"{_AREAS[i % len(_AREAS)]}867{i // len(_AREAS):04d}"


def e164(i: int) -> str:
    """``phone(i)`` in E.164."""
    return f"+1{phone(i)}"


def lead_rows(count: int, start: int = 0, prefix: str = "L") -> list[list[str]]:
    """``count`` valid leads (external id, names, phone, e-mail), distinct phones and ids."""
    return [[f"{prefix}{i}", f"First{i}", f"Last{i}", phone(i), f"lead{i}@example.com"]
            for i in range(start, start + count)]


def write_csv(path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = HEADER) -> Path:
    """Write a CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def leads_file(path: Path, count: int, start: int = 0) -> SourceSpec:
    """A CSV of ``count`` valid leads, as a source."""
    return SourceSpec(location=str(write_csv(path, lead_rows(count, start))))


def run_options(tmp: Path, base_url: str | None, *, name: str = "run", batch_size: int = 3,
                max_attempts: int = 4, provider_options: dict[str, Any] | None = None,
                **load: Any) -> RunOptions:
    """Options for a test run: tiny backoff, no window gate, files under ``tmp``."""
    return RunOptions(
        rules=RuleOptions(window_gate=False),
        load=LoadOptions(base_url=base_url, batch_size=batch_size, max_attempts=max_attempts, backoff_s=0.01,
                         max_backoff_s=5.0, provider_options=provider_options or {}, **load),
        ledger_url=f"sqlite:///{tmp / 'ledger.db'}",
        output_dir=str(tmp / "out"),
        outcomes_path=str(tmp / f"{name}-outcomes.csv"),
        report_path=str(tmp / f"{name}-report.json"),
    )


def outcomes_of(result: dict[str, Any]) -> pd.DataFrame:
    """The outcomes file of a run."""
    return pd.read_csv(result["outcomes_file"], dtype=str, keep_default_na=False)


def assert_balanced(result: dict[str, Any], rows: int | None = None) -> pd.DataFrame:
    """Every row read (and carried) has exactly one outcome, in the result, report.json and the outcomes file."""
    expected = result["rows_read"] + result["rows_carried"]
    if rows is not None:
        assert result["rows_read"] == rows, result
    assert result["balanced"] is True, result
    assert sum(result["outcomes"].values()) == expected, result["outcomes"]
    assert set(result["outcomes"]) <= set(OUTCOMES), result["outcomes"]
    report = json.loads(Path(result["report_file"]).read_text())
    assert report["outcomes"] == result["outcomes"]
    assert report["rows_read"] == result["rows_read"]
    table = outcomes_of(result)
    assert len(table) == expected
    assert set(table["outcome"]) <= set(OUTCOMES), Counter(table["outcome"])
    assert dict(Counter(table["outcome"])) == {k: v for k, v in result["outcomes"].items() if v}
    return table


@dataclass
class SimView:
    """A simulator served for the session; tests read its state directly."""

    name: str
    url: str
    app: SimApp

    def stored(self) -> list[dict[str, Any]]:
        """Every lead the simulator holds for the test campaign."""
        view = self.app.sim.leads_view()
        if self.name == "engage-voice":
            return list(view["accounts"].get(ENGAGE_ACCOUNT, {}).get(ENGAGE_CAMPAIGN, []))
        if self.name == "nlpearl":
            return list(view.get(PEARL, []))
        return list(view.get(VOISO_CAMPAIGN, []))

    def stored_keys(self) -> list[str]:
        """The external id (Engage, NLPearl) or phone digits (Voiso) of every stored lead."""
        if self.name == "engage-voice":
            return [str(x["externId"]) for x in self.stored()]
        if self.name == "nlpearl":
            return [str(x["externalId"]) for x in self.stored()]
        return [str(x["phone_number"]) for x in self.stored()]

    def faults(self, *plan: dict[str, Any]) -> None:
        """Install a fault plan on the load endpoint."""
        from simulators.common import Fault

        self.app.sim.faults.set([Fault.model_validate(p) for p in plan], None)

    def call_faults(self, match: str, *plan: dict[str, Any]) -> None:
        """Install a fault plan on the other requests whose path matches ``match`` (look-ups)."""
        from simulators.common import Fault

        self.app.sim.call_faults.set([Fault.model_validate(p) for p in plan], match)

    def in_flight(self) -> int:
        """Requests the simulator has not answered yet."""
        return sum(1 for r in list(self.app.sim.received.records) if r["ended"] is None)

    def wait_idle(self, limit_s: float = 30.0) -> None:
        """Wait until every request the simulator holds has ended."""
        deadline = time.monotonic() + limit_s
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)

    def load_requests(self) -> list[dict[str, Any]]:
        """The request log entries of lead loads."""
        return [r for r in self.app.sim.received.records if self.app.sim.faults.pattern.search(r["path"])]


def key_of(view: SimView, row: pd.Series) -> str:
    """The simulator key of an outcomes-file row (external id, or phone digits for Voiso)."""
    if view.name == "voiso":
        return str(row["phone"]).lstrip("+")
    return str(row["external_id"])


def assert_stored_once(view: SimView, loaded_keys: Iterable[str]) -> None:
    """The simulator holds each loaded lead exactly once, and nothing else."""
    keys = view.stored_keys()
    twice = {k: n for k, n in Counter(keys).items() if n > 1}
    assert not twice, f"stored more than once: {twice}"
    assert sorted(keys) == sorted(set(loaded_keys))


def loaded_keys(view: SimView, table: pd.DataFrame) -> list[str]:
    """Keys of the rows an outcomes file says were loaded."""
    return [key_of(view, r) for _, r in table[table["outcome"] == "loaded"].iterrows()]


def follow_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Prefect's console log handler write to whatever ``sys.stderr`` is when it emits.

    Prefect binds its console handler to the stream of the moment it was configured, which in a
    test session is an earlier test's (closed) capture; following ``sys.stderr`` lets ``capfd``
    see what a user of the command line would see, and keeps "Logging error" noise out.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    emit = PrefectConsoleHandler.emit

    def to_current_stderr(self: PrefectConsoleHandler, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        self.console.file = sys.stderr
        emit(self, record)

    monkeypatch.setattr(PrefectConsoleHandler, "emit", to_current_stderr)
