"""Run reports: report.json and the run's summary for Prefect artifacts (the outcomes file: ``outcomes_file.py``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.outcomes import OUTCOMES
from tasks.masking import mask_external_id, mask_frame, mask_text
from tasks.outcomes_file import private_open


@dataclass
class RunReport:
    """What a run did: written as report.json and shown in the UI."""

    run_id: str
    provider: str
    campaign: str
    account: str | None
    source: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    rows_read: int = 0
    rows_carried: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    outcomes_file: str | None = None
    report_file: str | None = None
    batches: int = 0
    watermark: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    write_back: dict[str, Any] | None = None  #: what the write-back did (``tasks.writeback_run.finish``)

    @property
    def total(self) -> int:
        """Leads that got an outcome."""
        return sum(self.outcomes.values())

    def balanced(self) -> bool:
        """Every row read (and carried over) has exactly one outcome."""
        return self.total == self.rows_read + self.rows_carried

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "run_id": self.run_id, "provider": self.provider, "campaign": self.campaign,
            "account": self.account, "source": self.source, "dry_run": self.dry_run,
            "status": self.status, "rows_read": self.rows_read, "rows_carried": self.rows_carried,
            "outcomes": self.outcomes, "balanced": self.balanced(), "outcomes_file": self.outcomes_file,
            "report_file": self.report_file,
            "batches": self.batches, "watermark": self.watermark, "error": self.error, "notes": self.notes,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "write_back": self.write_back,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }

    def write(self, path: str) -> None:
        """Write report.json (owner-only)."""
        self.report_file = path
        with private_open(Path(path), "w") as fh:
            json.dump(self.as_dict(), fh, indent=2)
            fh.write("\n")


#: Characters markdown would take as markup (``***-***-**09`` must not turn into emphasis).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+!|~-])")


def md_escape(text: object) -> str:
    """Text shown as itself in a markdown artifact (every markup character escaped)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def file_link(path: str | None) -> str:
    """A markdown link to a local file (its absolute path as the text)."""
    if not path:
        return "(none)"
    absolute = Path(path).resolve()
    return f"[{md_escape(absolute)}]({absolute.as_uri()})"


def markdown_summary(report: RunReport) -> str:
    """The run summary as markdown (no phone numbers, no e-mails), with links to its files."""
    lines = [
        f"# leadflow run `{report.run_id}`", "",
        f"**{md_escape(report.provider)}** campaign **{md_escape(report.campaign)}** from"
        f" {md_escape(report.source)}" + (" (dry run)" if report.dry_run else ""), "",
        f"Status: **{md_escape(report.status)}**; rows read {report.rows_read}, carried over"
        f" {report.rows_carried}; batches {report.batches}.", "",
        "| outcome | leads |", "|---|---:|",
    ]
    lines += [f"| {md_escape(k)} | {v} |" for k, v in report.outcomes.items()]
    lines += ["", f"Counts add up: **{'yes' if report.balanced() else 'NO'}**", "",
              f"- report: {file_link(report.report_file)}", f"- outcomes: {file_link(report.outcomes_file)}"]
    if report.error:
        lines += ["", f"Error: {md_escape(mask_text(report.error))}"]
    if report.write_back:
        wb = report.write_back
        lines += ["", f"Write-back to {md_escape(wb['target'])}: **{md_escape(wb['status'])}**, {wb['rows']} rows"
                  + (f"; error: {md_escape(wb['error'])}" if wb.get("error") else "")]
    return "\n".join(lines)


def sample_rows(rows: pd.DataFrame, outcomes: tuple[str, ...], limit: int = 25, *,
                strict_ids: bool = False) -> pd.DataFrame:
    """Masked examples of leads with the given outcomes, for artifacts, markup escaped.

    Phones are masked; external ids stay readable unless an id is itself a phone number or an e-mail
    (``strict_ids`` masks every phone- or e-mail-like part of them too).
    """
    picked = rows[rows["outcome"].isin(outcomes)].head(limit)
    out = mask_frame(picked[["row", "external_id", "phone", "outcome", "reason"]], ["phone"], [])
    out["external_id"] = out["external_id"].map(
        lambda v: mask_external_id(v, strict=strict_ids) if isinstance(v, str) else v)
    out["reason"] = out["reason"].map(lambda v: mask_text(v) if isinstance(v, str) else v)
    for col in ("external_id", "phone", "outcome", "reason"):
        out[col] = out[col].map(lambda v: md_escape(v) if isinstance(v, str) else v)
    return out
