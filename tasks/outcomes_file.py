"""The outcomes file: one row per input row (CSV or Parquet, owner-only), written chunk by chunk.

CSV lines are written by Arrow's CSV writer when no field needs quoting, by Arrow string kernels
otherwise, byte for byte what ``to_csv`` writes; text a spreadsheet would run as a formula is
neutralised (``'=1+2``).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from schemas import columns as C
from schemas.outcomes import Outcome
from schemas.text import byte_view, text_series
from tasks.payload import byte_set, column_array, holds_any_byte

#: Outcomes of which examples are kept for the run's artifacts, and how many rows at most.
SAMPLED = (Outcome.INVALID, Outcome.REJECTED, Outcome.FAILED)
SAMPLES = 25
#: Columns of the outcomes file, in order.
OUTCOME_COLUMNS = ["row", "origin", "external_id", "phone", "outcome", "reason", "timezone", "next_eligible_at"]
#: Columns of the outcomes file holding text from the source, which could be a spreadsheet formula.
_FORMULA_COLUMNS = ("external_id", "phone", "reason")
#: Cell prefixes a spreadsheet would run as a formula.
_FORMULA = r"^(?:[=@\t\r]|[+\-](?![\d\s().\-]*$))"
_FORMULA_RE = re.compile(_FORMULA)
#: First characters ``_FORMULA`` can match (only such cells take the slow regex) ...
_FORMULA_START = ("=", "@", "\t", "\r", "+", "-")
#: ... unless they are a signed number such as a phone (ASCII subset of what ``_FORMULA`` lets pass).
_PLAIN_NUMBER = r"[+\-][0-9 \t\n\r\f().\-]*"
#: ``_PLAIN_NUMBER`` as a whole value, for Arrow's regex engine (RE2).
_PLAIN_NUMBER_VALUE = f"^(?:{_PLAIN_NUMBER})$"
#: The bytes of ``_FORMULA_START``, and of the signs and the digit zero.
_FORMULA_BYTES = np.frombuffer("".join(_FORMULA_START).encode(), dtype=np.uint8)
_PLUS, _MINUS, _ZERO = ord("+"), ord("-"), ord("0")
#: The outcomes file's time format (UTC).
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def private_open(path: Path, mode: str) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, encoding="utf-8", newline="") if "b" not in mode else os.fdopen(fd, mode)


def outcome_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The outcomes-file view of a finished chunk: one row per input row."""
    phone = df[C.PHONE_E164].astype("string") if C.PHONE_E164 in df else _missing(df.index)
    if C.PHONE in df:
        phone = _filled(phone, df[C.PHONE].astype("string"))
    zones = df[C.TZ_ZONES].astype("string") if C.TZ_ZONES in df else pd.Series(pd.NA, index=df.index)
    origin = df["origin"].astype("string") if "origin" in df else _repeated("source", df.index)
    return pd.DataFrame({
        "row": df["source_row"] if "source_row" in df else df[C.ROW],
        "origin": origin,
        "external_id": df[C.EXTERNAL_ID].astype("string"),
        "phone": phone,
        "outcome": df[C.OUTCOME].astype("string"),
        "reason": df[C.REASON].astype("string"),
        "timezone": zones,
        "next_eligible_at": _time_texts(df[C.NEXT_ELIGIBLE]) if C.NEXT_ELIGIBLE in df else _missing(df.index),
    }, copy=False)


def _missing(index: pd.Index) -> pd.Series:
    """No text on any row, as a ``"string"`` Series."""
    return text_series(pa.nulls(len(index), pa.large_string()), index)


def _filled(first: pd.Series, then: pd.Series) -> pd.Series:
    """``first.fillna(then)`` for two ``"string"`` Series on one index, in one Arrow pass."""
    head = column_array(first)
    if not head.null_count:
        return first
    return text_series(pc.if_else(head.is_valid(), head, column_array(then).cast(head.type)), first.index)


def _repeated(text: str, index: pd.Index) -> pd.Series:
    """The same text on every row, as a ``"string"`` Series."""
    return text_series(pa.repeat(pa.scalar(text, pa.large_string()), len(index)), index)


def _time_texts(values: pd.Series) -> pd.Series:
    """Times as ``_TIME_FORMAT`` text in UTC, missing where there is none (only the times there are get formatted)."""
    stamps = pd.to_datetime(values, utc=True)
    present = stamps.notna().to_numpy(dtype=bool)
    if not present.any():
        return _missing(values.index)
    formatted = column_array(stamps[present].dt.strftime(_TIME_FORMAT).astype("string")).cast(pa.large_string())
    texts = pc.replace_with_mask(pa.nulls(len(stamps), pa.large_string()), pa.array(present), formatted)
    return text_series(texts, values.index)


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
        self._handle = private_open(self.path, "wb")
        self._schema = pa.schema([(c, pa.int64() if c == "row" else pa.string()) for c in OUTCOME_COLUMNS])
        if not self.parquet:
            self._handle.write((",".join(OUTCOME_COLUMNS) + "\n").encode())

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
        self._handle.write(_safe_csv(rows))

    def close(self) -> None:
        """Flush and close the file."""
        if self._writer is not None:
            self._writer.close()
        self._handle.close()


def _safe_csv(rows: pd.DataFrame) -> Any:
    """The outcomes-file lines of ``rows`` (bytes), text a spreadsheet would run as a formula quoted (``'=1+2``)."""
    arrays = [column_array(rows[col]) for col in OUTCOME_COLUMNS]
    safe = [_neutralised(arr) if col in _FORMULA_COLUMNS else arr
            for col, arr in zip(OUTCOME_COLUMNS, arrays, strict=True)]
    data = _csv_data(safe)
    if data is not None:
        return data
    changed = {col: text_series(new, rows.index)
               for col, old, new in zip(OUTCOME_COLUMNS, arrays, safe, strict=True) if new is not old}
    return _to_csv(rows[OUTCOME_COLUMNS].assign(**changed)).encode()


def _neutralised(values: pa.Array) -> pa.Array:
    """Text values a spreadsheet would run as a formula with a quote in front; values of other types as they are."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values
    cells = _formula_cells(values)
    if not cells.any():
        return values
    quoted = [_FORMULA_RE.sub(r"'\g<0>", value) for value in values.filter(cells).to_pylist()]
    return pc.replace_with_mask(values, pa.array(cells), pa.array(quoted, values.type))


def _formula_cells(text: pa.Array) -> npt.NDArray[np.bool_]:
    """Which values of a string array start with a formula (``_FORMULA``), read off the array's bytes.

    Only values whose first byte is one of ``_FORMULA_START`` can; of those, the signed plain numbers
    (``_PLAIN_NUMBER``, such as phones) are not. A sign followed by digits alone is one without a look
    at the pattern: it is matched only on the other signed values.
    """
    values = text.cast(pa.large_string())
    data, offsets = byte_view(values)  # nulls read as empty
    starts, ends = offsets[:-1], offsets[1:]
    if not len(data):
        return np.zeros(len(values), dtype=bool)
    first = data[np.minimum(starts, len(data) - 1)]
    cells: npt.NDArray[np.bool_] = np.isin(first, _FORMULA_BYTES) & (ends > starts)
    signed = cells & ((first == _PLUS) | (first == _MINUS))
    if not signed.any():
        return cells
    # The values holding a byte other than a digit after their sign (which is set aside) need the pattern.
    other = data - np.uint8(_ZERO) > 9
    other[starts[signed]] = False
    unsure = signed & (np.diff(np.searchsorted(np.flatnonzero(other), offsets)) > 0)
    plain: npt.NDArray[np.bool_] = signed & ~unsure
    if unsure.any():
        checked = pc.match_substring_regex(values.filter(pa.array(unsure)), _PLAIN_NUMBER_VALUE)
        plain[unsure] = checked.to_numpy(zero_copy_only=False)
    return cells & ~plain


def _csv_quote_chars() -> str:
    """Characters that make Python's csv writer (behind ``to_csv``) quote a field in this Python."""
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["\r"])
    return ',"\r\n' if probe.getvalue().startswith('"') else ',"\n'


_CSV_QUOTE_CHARS = _csv_quote_chars()
_CSV_QUOTED = byte_set(_CSV_QUOTE_CHARS)
_CSV_QUOTE = f"[{_CSV_QUOTE_CHARS}]"
#: Arrow's CSV writer, told never to quote: it refuses a value holding a comma, a quote or a line break.
_CSV_UNQUOTED = pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)


def csv_lines(frame: pd.DataFrame) -> str:
    """The rows of ``frame`` as CSV text, byte for byte what ``to_csv(header=False, index=False)`` writes.

    Text, integer and boolean columns are written by Arrow (:func:`_csv_data`); frames with other
    column types go through ``to_csv`` itself.
    """
    data = _csv_data([column_array(frame[col]) for col in frame.columns])
    return _to_csv(frame) if data is None else bytes(data).decode("utf-8")


def _to_csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.to_csv(out, header=False, index=False)
    return out.getvalue()


def _csv_data(arrays: list[pa.Array]) -> Any:
    """CSV rows of these columns (bytes), what ``to_csv`` writes for them; ``None`` for column types not
    handled here (only text, integers, booleans and all-missing columns are).

    Fields holding a comma, a quote or a line break are quoted (quotes doubled), missing values are empty,
    each row ends with a newline. A chunk with no such field, the usual case, is written by Arrow's CSV
    writer in one go; the others field by field with Arrow string kernels (:func:`_quoted_csv`).
    """
    if not arrays or not all(_csv_type(a.type) for a in arrays):
        return None
    if not len(arrays[0]):
        return b""
    fields = [pc.if_else(a, "True", "False") if pa.types.is_boolean(a.type) else a for a in arrays]
    if len(fields) > 1:  # a lone column writes an empty value as "" (the row would be blank otherwise)
        try:
            sink = pa.BufferOutputStream()
            table = pa.Table.from_arrays(fields, names=[str(i) for i in range(len(fields))])
            pa_csv.write_csv(table, sink, write_options=_CSV_UNQUOTED)
            return sink.getvalue()
        except pa.ArrowInvalid:  # a value that needs quotes
            pass
    return _quoted_csv(fields)


def _csv_type(kind: pa.DataType) -> bool:
    """Whether :func:`_csv_data` writes columns of this type."""
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
                or pa.types.is_boolean(kind) or pa.types.is_null(kind))


def _quoted_csv(fields: list[pa.Array]) -> bytes:
    """CSV rows of these text, integer and null columns, fields quoted where ``to_csv`` quotes them."""
    texts = []
    for arr in fields:
        text = arr.cast(pa.string())
        if holds_any_byte(text, _CSV_QUOTED):
            special = pc.match_substring_regex(text, _CSV_QUOTE)
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
            text = pc.if_else(special, quoted, text)
        texts.append(text.fill_null(""))
    lines = pc.binary_join_element_wise(*texts, ",")
    if len(texts) == 1:
        lines = pc.if_else(pc.equal(lines, ""), '""', lines)
    offsets = pa.array([0, len(lines)], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, lines), "\n")[0]
    return bytes(joined.as_buffer()) + b"\n"
