"""A batch's leads as one ledger record: JSON arrays with one value per lead, in the batch's order.

A batch is recorded once with its leads' source rows, phone keys and external ids, and each lead
``sending``; when answers come back, the statuses and reasons are rewritten as a whole. For a
25,000-lead batch on SQLite this costs about 5 ms of CPU to record and 5 ms to settle, where a row
per lead cost 33 and 27 ms (benchmarks/README.md). JSON keeps the records readable with the
database's own functions (``json_each`` in SQLite, ``jsonb_array_elements`` in PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from schemas import columns as C
from schemas.marks import find_rows
from schemas.outcomes import Outcome

#: A lead's status from when its batch is recorded until its answer (then ``loaded``, ``rejected`` or ``failed``).
SENDING = "sending"
#: Columns of ``leads_frame``.
LEAD_COLUMNS = ["row", "phone_key", "external_id", "status", "reason"]
_REASON_CHARS = 1000


def _ints(values: npt.NDArray[Any]) -> str:
    return orjson.dumps(np.ascontiguousarray(values, dtype=np.int64), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _texts(values: pd.Series) -> str:
    """``values`` as a JSON array of strings, missing ones ``null``."""
    missing: Any = None  # NA as None (the stubs do not list None as an na_value)
    return orjson.dumps(values.astype("string").to_numpy(dtype=object, na_value=missing).tolist()).decode()


def lead_arrays(batch: pd.DataFrame) -> dict[str, str]:
    """The fixed part of a batch's record: ``rows``, ``phone_keys`` and ``external_ids``."""
    ext = batch[C.EXTERNAL_ID] if C.EXTERNAL_ID in batch else pd.Series(None, index=batch.index, dtype="string")
    return {"rows": _ints(batch[C.ROW].to_numpy(dtype=np.int64)),
            "phone_keys": _ints(batch["phone_key"].to_numpy(dtype=np.int64)),
            "external_ids": _texts(ext)}


def status_arrays(statuses: pd.Series, reasons: pd.Series) -> dict[str, str]:
    """The changing part of a batch's record: ``statuses`` and ``reasons``."""
    return {"statuses": _texts(statuses), "reasons": _texts(reasons.astype("string").str.slice(0, _REASON_CHARS))}


def sending(count: int) -> dict[str, str]:
    """The changing part of a batch just recorded: every lead ``sending``, no reasons."""
    return {"statuses": orjson.dumps([SENDING] * count).decode(), "reasons": orjson.dumps([None] * count).decode()}


def ints(text: str) -> npt.NDArray[np.int64]:
    """A JSON array of integers as an ``int64`` array."""
    return np.asarray(orjson.loads(text), dtype=np.int64).reshape(-1)


def texts(text: str) -> npt.NDArray[np.object_]:
    """A JSON array of strings and nulls as an object array (``None`` where null)."""
    values = orjson.loads(text)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def settle(rows: str, statuses: str, reasons: str, results: pd.DataFrame) -> tuple[dict[str, str], bool]:
    """A batch's ``statuses`` and ``reasons`` once ``results`` (``row``, ``outcome``, ``reason``) are
    recorded, and whether a lead is still ``sending``.

    A row of ``results`` the batch does not hold is ignored; a loaded lead keeps no reason.
    """
    known = ints(rows)
    at, mine = find_rows(known, results[C.ROW].to_numpy(dtype=np.int64))
    loaded = results[C.OUTCOME].eq(Outcome.LOADED).to_numpy(dtype=bool)[mine]
    hit, missed = at[mine][loaded], at[mine][~loaded]
    covered = np.zeros(len(known), dtype=bool)
    covered[hit] = True
    if not len(missed) and bool(covered.all()):  # the usual answer: every lead loaded
        return {"statuses": orjson.dumps([Outcome.LOADED.value] * len(known)).decode(),
                "reasons": orjson.dumps([None] * len(known)).decode()}, False
    status, reason = texts(statuses), texts(reasons)
    status[hit], reason[hit] = Outcome.LOADED.value, None
    others = results[mine][~loaded]
    missing: Any = None  # NA as None (the stubs do not list None as an na_value)
    status[missed] = others[C.OUTCOME].astype("string").to_numpy(dtype=object, na_value=missing)
    reason[missed] = others[C.REASON].astype("string").str.slice(0, _REASON_CHARS).to_numpy(
        dtype=object, na_value=missing)
    changed = {"statuses": orjson.dumps(status.tolist()).decode(), "reasons": orjson.dumps(reason.tolist()).decode()}
    return changed, bool((status == SENDING).any())


def leads_frame(rows: str, phone_keys: str, external_ids: str, statuses: str, reasons: str) -> pd.DataFrame:
    """A batch's leads as recorded (``LEAD_COLUMNS``), by row."""
    frame = pd.DataFrame({"row": ints(rows), "phone_key": ints(phone_keys), "external_id": texts(external_ids),
                          "status": texts(statuses), "reason": texts(reasons)})
    return frame.sort_values("row", kind="stable", ignore_index=True)


def with_status(statuses: str, wanted: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Which leads of a batch have one of the ``wanted`` statuses."""
    return np.isin(texts(statuses).astype(str), list(wanted))
