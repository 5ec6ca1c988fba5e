"""Run reports: the outcomes file, report.json, Prefect artifacts and events."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import columns as C
from schemas.outcomes import OUTCOMES, Outcome
from tasks.masking import mask_external_id, mask_frame, mask_text
from tasks.payload import byte_set, column_array, holds_any_byte

#: Outcomes of which examples are kept for the run's artifacts, and how many rows at most.
SAMPLED = (Outcome.INVALID, Outcome.REJECTED, Outcome.FAILED)
SAMPLES = 25
#: Columns of the outcomes file, in order.
OUTCOME_COLUMNS = ["row", "origin", "external_id", "phone", "outcome", "reason", "timezone", "next_eligible_at"]
#: Cell prefixes a spreadsheet would run as a formula.
_FORMULA = r"^(?:[=@\t\r]|[+\-](?![\d\s().\-]*$))"
#: First characters ``_FORMULA`` can match (only such cells take the slow regex) ...
_FORMULA_START = ("=", "@", "\t", "\r", "+", "-")
#: ... unless they are a signed number such as a phone (ASCII subset of what ``_FORMULA`` lets pass).
_PLAIN_NUMBER = r"[+\-][0-9 \t\n\r\f().\-]*"


def _private_open(path: Path, mode: str) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, encoding="utf-8", newline="") if "b" not in mode else os.fdopen(fd, mode)


def outcome_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The outcomes-file view of a finished chunk: one row per input row."""
    phone = df[C.PHONE_E164].astype("string") if C.PHONE_E164 in df else pd.Series(pd.NA, index=df.index)
    if C.PHONE in df:
        phone = phone.fillna(df[C.PHONE].astype("string"))
    zones = df[C.TZ_ZONES].astype("string") if C.TZ_ZONES in df else pd.Series(pd.NA, index=df.index)
    nxt = df[C.NEXT_ELIGIBLE] if C.NEXT_ELIGIBLE in df else pd.Series(pd.NaT, index=df.index)
    origin = df["origin"] if "origin" in df else pd.Series("source", index=df.index)
    return pd.DataFrame({
        "row": df["source_row"] if "source_row" in df else df[C.ROW],
        "origin": origin.astype("string"),
        "external_id": df[C.EXTERNAL_ID].astype("string"),
        "phone": phone.astype("string"),
        "outcome": df[C.OUTCOME].astype("string"),
        "reason": df[C.REASON].astype("string"),
        "timezone": zones,
        "next_eligible_at": pd.to_datetime(nxt, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("string"),
    })


class OutcomeWriter:
    """Appends outcome rows to a CSV or Parquet file (chosen by extension), owner-only."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.parquet = self.path.suffix.lower() in (".parquet", ".pq")
        self.counts: Counter[str] = Counter()
        self.rows = 0
        #: The first rows of the outcomes ``SAMPLED`` (at most ``SAMPLES`` of them), for the run's artifacts.
        self.samples = pd.DataFrame(columns=OUTCOME_COLUMNS)
        self._writer: pq.ParquetWriter | None = None
        self._handle = _private_open(self.path, "wb" if self.parquet else "w")
        self._schema = pa.schema([(c, pa.int64() if c == "row" else pa.string()) for c in OUTCOME_COLUMNS])
        if not self.parquet:
            self._handle.write(",".join(OUTCOME_COLUMNS) + "\n")

    def write(self, rows: pd.DataFrame) -> None:
        """Add rows (the ``outcome_rows`` shape)."""
        self.counts.update({str(k): int(v) for k, v in rows["outcome"].fillna("<none>").value_counts().items()})
        self.rows += len(rows)
        if len(self.samples) < SAMPLES:
            picked = rows.loc[rows["outcome"].isin(SAMPLED).fillna(False).to_numpy(dtype=bool), OUTCOME_COLUMNS]
            kept = [self.samples, picked.head(SAMPLES - len(self.samples))]
            self.samples = pd.concat([k for k in kept if len(k)] or [self.samples], ignore_index=True)
        if self.parquet:
            table = pa.Table.from_pandas(rows[OUTCOME_COLUMNS], schema=self._schema, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._handle, self._schema)
            self._writer.write_table(table)
            return
        safe = rows[OUTCOME_COLUMNS].copy()
        for col in ("external_id", "phone", "reason"):
            text = safe[col]
            flagged = text.str.slice(0, 1).isin(_FORMULA_START) & ~text.str.fullmatch(_PLAIN_NUMBER)
            risky = flagged.fillna(False).to_numpy(dtype=bool)
            if risky.any():
                safe.loc[risky, col] = safe.loc[risky, col].str.replace(_FORMULA, r"'\g<0>", regex=True)
        self._handle.write(csv_lines(safe))

    def close(self) -> None:
        """Flush and close the file."""
        if self._writer is not None:
            self._writer.close()
        self._handle.close()


def _csv_quote_chars() -> str:
    """Characters that make Python's csv writer (behind ``to_csv``) quote a field in this Python."""
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["\r"])
    return ',"\r\n' if probe.getvalue().startswith('"') else ',"\n'


_CSV_QUOTE_CHARS = _csv_quote_chars()
_CSV_QUOTED = byte_set(_CSV_QUOTE_CHARS)
_CSV_QUOTE = f"[{_CSV_QUOTE_CHARS}]"


def csv_lines(frame: pd.DataFrame) -> str:
    """The rows of ``frame`` as CSV text, byte for byte what ``to_csv(header=False, index=False)`` writes.

    Text, integer and boolean columns are built with Arrow string kernels: fields holding a comma,
    a quote or a line break are quoted (quotes doubled), missing values are empty, each row ends
    with a newline. Frames with other column types go through ``to_csv`` itself.
    """
    arrays = [column_array(frame[col]) for col in frame.columns]
    if not all(pa.types.is_string(a.type) or pa.types.is_large_string(a.type) or pa.types.is_integer(a.type)
               or pa.types.is_boolean(a.type) for a in arrays):
        out = io.StringIO()
        frame.to_csv(out, header=False, index=False)
        return out.getvalue()
    if len(frame) == 0:
        return ""
    fields = []
    for arr in arrays:
        if pa.types.is_boolean(arr.type):
            arr = pc.if_else(arr, "True", "False")
        text = arr.cast(pa.string())
        if holds_any_byte(text, _CSV_QUOTED):
            special = pc.match_substring_regex(text, _CSV_QUOTE)
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
            text = pc.if_else(special, quoted, text)
        fields.append(text.fill_null(""))
    lines = pc.binary_join_element_wise(*fields, ",")
    if len(fields) == 1:
        lines = pc.if_else(pc.equal(lines, ""), '""', lines)
    offsets = pa.array([0, len(lines)], pa.int32())
    return str(pc.binary_join(pa.ListArray.from_arrays(offsets, lines), "\n")[0].as_py()) + "\n"


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
        with _private_open(Path(path), "w") as fh:
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
