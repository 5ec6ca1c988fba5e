"""pandera's failure cases as one reason per validated row."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from schemas.marks import combine_reasons

#: Reason texts for pandera's own checks.
_BUILTIN_MESSAGES = {"not_nullable": "missing", "column_in_dataframe": "column missing"}


def failure_reasons(failures: pd.DataFrame, count: int, columns: Sequence[str]) -> pd.Series:
    """One reason per validated row (NA if it passed), from pandera's failure cases.

    Args:
        failures: ``SchemaErrors.failure_cases`` of a frame validated with a ``RangeIndex``.
        count: Rows validated.
        columns: The schema's columns: messages follow their order, then the text.

    Returns:
        A ``string`` Series on ``RangeIndex(count)``, e.g. ``"email: not a valid e-mail address"``.

    Raises:
        ValueError: If a failure concerns the frame itself (no row index), e.g. a column missing.
    """
    frame_level = failures[failures["index"].isna()]
    if len(frame_level):
        problems = (
            frame_level["column"].astype(str) + ": " + frame_level["check"].astype(str)
            + " (" + frame_level["failure_case"].astype(str) + ")"
        )
        raise ValueError(f"the leads frame does not fit the Lead schema: {'; '.join(problems)}")
    rows = failures["index"].to_numpy(dtype=np.int64)
    by_message: dict[str, list[np.ndarray]] = {}
    groups = failures.groupby(["schema_context", "column", "check"], sort=False, dropna=False).indices
    for key, at in groups.items():
        context, column, check = (str(part) for part in key)  # type: ignore[attr-defined]
        name = _BUILTIN_MESSAGES.get(check, check)
        message = f"{column}: {name}" if context == "Column" else name
        by_message.setdefault(message, []).append(rows[at])
    order = {c: i for i, c in enumerate(columns)}
    checks = []
    for message in sorted(by_message, key=lambda m: (order.get(m.split(":")[0], len(order)), m)):
        mask = np.zeros(count, dtype=bool)
        mask[np.concatenate(by_message[message])] = True
        checks.append((mask, message))
    return combine_reasons(checks, pd.RangeIndex(count))
