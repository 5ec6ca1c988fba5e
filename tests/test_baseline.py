"""The naive baseline against the real Engage Voice simulator: both rule sets, and one row per outcome."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks import baseline
from benchmarks.generate import COLUMNS, write_leads
from benchmarks.profile_simulator import reset, simulator
from schemas import lead

ROWS = 2_000


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    """The Engage Voice simulator in its own process, as the benchmark runs it."""
    with simulator() as url:
        yield url


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small generated lead file and its DNC file."""
    folder = tmp_path_factory.mktemp("baseline")
    csv_path, dnc_path = folder / "leads.csv", folder / "dnc.txt"
    write_leads(csv_path, ROWS, seed=7, dnc=dnc_path, dnc_rate=0.02)
    return csv_path, dnc_path


def stored(url: str) -> int:
    """How many leads the simulator holds."""
    accounts = httpx.get(f"{url}/_sim/leads", timeout=60.0).json()["accounts"]
    return sum(len(leads) for campaigns in accounts.values() for leads in campaigns.values())


def run(url: str, csv_path: Path, **kwargs: Any) -> dict[str, Any]:
    """One baseline run on an empty simulator; checks that every row ends with exactly one count."""
    reset(url)
    result = baseline.run_baseline(csv_path, url, **kwargs)
    assert result["rows"] == sum(v for k, v in result["counts"].items() if k != "requests")
    assert result["wall_s"] > 0 and result["leads_per_s"] > 0
    return result


def test_all_rules_on_a_generated_file(sim: str, generated: tuple[Path, Path]) -> None:
    csv_path, dnc_path = generated
    result = run(sim, csv_path, rules="all", dnc_path=dnc_path)
    counts = result["counts"]
    assert result["rules"] == "all" and result["rows"] == ROWS
    for outcome in ("invalid", "duplicate", "suppressed", "loaded"):
        assert counts[outcome] > 0, outcome
    assert counts["loaded"] == stored(sim)
    assert counts["requests"] == 1


def test_phones_only_is_the_original_baseline(sim: str, generated: tuple[Path, Path]) -> None:
    csv_path, dnc_path = generated
    phones = run(sim, csv_path, rules="phones", dnc_path=dnc_path)
    assert phones["rules"] == "phones" and phones["rows"] == ROWS
    assert set(phones["counts"]) <= {"invalid", "duplicate", "loaded", "rejected", "requests"}
    assert phones["counts"]["loaded"] == stored(sim)
    every = run(sim, csv_path, rules="all", dnc_path=dnc_path)
    assert phones["counts"]["invalid"] < every["counts"]["invalid"]  # field shapes are checked too
    assert phones["counts"]["loaded"] > every["counts"]["loaded"]


def test_limit_reads_at_most_that_many_rows(sim: str, generated: tuple[Path, Path]) -> None:
    result = run(sim, generated[0], limit=150, dnc_path=generated[1])
    assert result["rows"] == 150


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    """The counts that are not zero."""
    return {k: v for k, v in counts.items() if v}


def test_one_row_per_outcome(sim: str, tmp_path: Path) -> None:
    rows = [
        {"Lead ID": "L-1", "Phone Number": "(212) 736-4100", "Email": "ada@example.com", "State": "NY",
         "ZIP": "10001"},                                                                  # loaded
        {"Lead ID": "L-2", "Phone Number": "N/A", "Email": "ada@example.com"},             # invalid phone
        {"Lead ID": "L-3", "Phone Number": "415-876-2300", "Email": "ada.example.com"},     # invalid e-mail
        {"Lead ID": "L-4", "Phone Number": "303-291-7755", "State": "Colorado"},           # invalid state
        {"Lead ID": "L-5", "Phone Number": "617-262-1120", "ZIP": "V6B 1A1", "State": "MA"},  # invalid: CA code
        {"Lead ID": "L-6", "Phone Number": "+1 713.652.4000", "First Name": "x" * 101},    # invalid: too long
        {"Lead ID": "L-7", "Phone Number": "2127364100"},                                  # duplicate of L-1
        {"Lead ID": "L-8", "Phone Number": "404-555-8899", "State": "GA"},                 # suppressed (DNC)
        {"Lead ID": "L-9", "Phone Number": "671-477-1234"},                                # deferred: Guam, 04:00
        {"Lead ID": "L-10", "Phone Number": "787-722-1234", "State": " pr", "ZIP": "936"},  # loaded: ZIP padded
        {"Lead ID": "L-11", "Phone Number": "604-555-7788", "State": "BC", "ZIP": "v6b 1a1"},  # loaded: Canada
        {"Lead ID": "", "Phone Number": "312-911-0100", "State": "IL"},                    # rejected: no externId
    ]
    csv_path, dnc_path = tmp_path / "leads.csv", tmp_path / "dnc.txt"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    dnc_path.write_text("# national registry\n404,5558899\n\n9995550000\nnot a number\n", encoding="utf-8")
    now = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)  # a Wednesday: 14:00 in New York, 04:00 on Guam
    result = run(sim, csv_path, rules="all", dnc_path=dnc_path, now=now)
    assert nonzero(result["counts"]) == {"loaded": 3, "invalid": 5, "duplicate": 1, "suppressed": 1,
                                         "deferred": 1, "rejected": 1, "requests": 1}
    # 02:00 UTC: 22:00 in New York and Puerto Rico, 21:00 in Chicago (the end is excluded),
    # 19:00 in Vancouver and 12:00 on Guam.
    late = run(sim, csv_path, rules="all", dnc_path=dnc_path, now=datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    assert nonzero(late["counts"]) == {"loaded": 2, "invalid": 5, "duplicate": 1, "suppressed": 1,
                                       "deferred": 3, "requests": 1}
    phones = run(sim, csv_path, rules="phones", dnc_path=dnc_path, now=now)
    assert nonzero(phones["counts"]) == {"loaded": 9, "invalid": 1, "duplicate": 1, "rejected": 1, "requests": 1}


def test_read_dnc_forms(tmp_path: Path) -> None:
    path = tmp_path / "dnc.txt"
    path.write_text("phone\n# comment\n2127364100\n404,5558899\n 415 , 876-2300 \n+1 (303) 291-7755,extra\n"
                    "\nN/A\n", encoding="utf-8")
    assert baseline.read_dnc(path) == {"+12127364100", "+14045558899", "+14158762300", "+13032917755"}


def test_patterns_match_the_lead_schema() -> None:
    assert baseline.EMAIL_PATTERN == lead.EMAIL_PATTERN
    assert baseline.US_ZIP_PATTERN == lead.US_ZIP_PATTERN
    assert baseline.CA_POSTAL_PATTERN == lead.CA_POSTAL_PATTERN
    assert baseline.SHORT_ZIP_PATTERN == lead.SHORT_ZIP_PATTERN
    assert baseline.CA_PROVINCES == lead.CA_PROVINCES
    assert (baseline.TEXT_MAX, baseline.EMAIL_MAX, baseline.ADDRESS_MAX) == (
        lead.TEXT_MAX, lead.EMAIL_MAX, lead.ADDRESS_MAX)


def test_unknown_rules_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rules"):
        baseline.run_baseline(tmp_path / "none.csv", "http://127.0.0.1:9", rules="some")
