"""Run options: the typed parameters of the load flow (they become the form in the Prefect UI)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TimeZoneOption = Literal["AUTO", "NPA_NXX", "ZIPCODE", "EXPLICIT", "NOT_APPLICABLE"]
DedupKeep = Literal["first", "last", "all"]
DedupScope = Literal["none", "campaign", "provider", "any"]

DEFAULT_LEDGER_URL = "sqlite:///leadflow-ledger.db"
#: ``${NAME}`` in a database URL: the value of the environment variable ``NAME`` (a password kept out of parameters).
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(url: str) -> str:
    """``url`` with each ``${NAME}`` replaced by the environment variable ``NAME``.

    Raises:
        ValueError: a named variable is not set.
    """
    def value(match: re.Match[str]) -> str:
        found = os.environ.get(match[1])
        if found is None:
            raise ValueError(f"environment variable {match[1]} (named in a database URL) is not set")
        return found

    return ENV_REF.sub(value, url)
DEFAULT_OUTPUT_DIR = "leadflow-out"


class RuleOptions(BaseModel):
    """Which rules run and how."""

    model_config = ConfigDict(extra="forbid")

    default_region: str = Field("US", description="Region for numbers written without a country code.")
    allow_fictional: bool = Field(False, description="Accept 555-01xx fictional numbers.")
    dedup_keep: DedupKeep = Field("first", description="Which copy of an in-run duplicate to keep.")
    dedup_by_external_id: bool = Field(False, description="Also treat a repeated external id as a duplicate.")
    dedup_scope: DedupScope = Field(
        "campaign", description="Skip leads already loaded to this campaign, provider, or any provider."
    )
    cooldown_days: int = Field(30, ge=0, description="How far back the ledger dedup looks.")
    dnc_files: list[str] = Field(default_factory=list, description="Do-not-call files (paths or URLs).")
    dnc_sql: list[str] = Field(
        default_factory=list,
        description="Do-not-call SQL sources as 'URL#table' or 'URL#select ...' (first column is the phone).",
    )
    timezone_option: TimeZoneOption = Field("AUTO", description="How each lead's time zone is found.")
    window_gate: bool | None = Field(
        None, description="Defer leads outside their calling window; default: on unless the provider enforces windows."
    )


class LoadOptions(BaseModel):
    """How leads are sent to the provider."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(False, description="Make no provider call; report what would happen.")
    base_url: str | None = Field(None, description="Provider API base URL (default from the environment).")
    batch_size: int | None = Field(None, ge=1, description="Leads per request (default: the provider's).")
    max_attempts: int = Field(5, ge=1, le=20, description="Attempts per batch before its leads fail.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each attempt, with jitter.")
    max_backoff_s: float = Field(60.0, ge=0, description="Cap on one retry delay (and on Retry-After).")
    concurrency: int | None = Field(None, ge=1, description="Batches in flight (default: the provider's).")
    rate_limits: bool = Field(True, description="Apply the provider's documented rate limits.")
    timeout_s: float = Field(30.0, gt=0, description="HTTP timeout per request.")
    answer_grace_s: float | None = Field(
        None, ge=0, description="Seconds after an unanswered request before leads a look-up did not find are sent "
        "again (a late answer lands meanwhile; default: twice timeout_s, at least 5).")
    lease_wait_s: float = Field(
        0.0, ge=0, description="How long to wait for another run of the same campaign to finish (0: fail at once).")
    verify_tls: bool = Field(True, description="Verify TLS certificates (turn off only for loopback simulators).")
    provider_options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific options (see the README per provider)."
    )


class RunOptions(BaseModel):
    """Everything about a run besides source, provider and campaign."""

    model_config = ConfigDict(extra="forbid")

    rules: RuleOptions = Field(default_factory=RuleOptions)  # type: ignore[arg-type]
    load: LoadOptions = Field(default_factory=LoadOptions)  # type: ignore[arg-type]
    full_refresh: bool = Field(False, description="Ignore the incremental watermark.")
    pick_up_pending: bool = Field(True, description="First retry deferred leads now due and failed leads.")
    ledger_url: str | None = Field(None, description="Ledger database URL (default LEADFLOW_LEDGER_URL).")
    output_dir: str = Field(DEFAULT_OUTPUT_DIR, description="Where report and outcome files go.")
    report_path: str | None = Field(None, description="report.json path (default <output_dir>/<run>/report.json).")
    outcomes_path: str | None = Field(None, description="Outcomes file, .csv or .parquet.")
    now: datetime | None = Field(None, description="Clock override for calling windows (testing, backfills).")
    write_back: str | None = Field(
        None, description="Table in the source's database (or file beside a file source) that gets one row per "
        "source row: outcome, reason, provider, campaign, run (default LEADFLOW_WRITE_BACK; see docs/writeback.md).")

    def resolved_ledger_url(self) -> str:
        """The ledger URL from the option, the environment, or the default SQLite file; ``${NAME}`` expanded."""
        return expand_env(self.ledger_url or os.environ.get("LEADFLOW_LEDGER_URL") or DEFAULT_LEDGER_URL)
