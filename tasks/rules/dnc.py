"""Do-not-call suppression: every phone of a lead against named, sorted lists of phone keys."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.columns import ALT_PHONES, PHONE_E164
from schemas.outcomes import Outcome
from tasks.rules.outcomes import combine_reasons, mark
from tasks.rules.phones import phone_key

KeyArray = npt.NDArray[np.int64]


def suppress(df: pd.DataFrame, lists: Mapping[str, KeyArray]) -> pd.DataFrame:
    """Mark pending leads with any phone (primary or alternate) on a do-not-call list.

    Args:
        df: A chunk with ``phone_e164`` and, optionally, ``alt_phones``.
        lists: Do-not-call lists by name, each a sorted array of unique
            :func:`tasks.rules.phones.phone_key` values (as ``np.unique`` returns).

    Returns:
        The chunk; matching pending leads get outcome ``suppressed`` and a reason such as
        ``"on do-not-call list (national, internal)"`` naming every list that matched.

    Raises:
        ValueError: If a list is not sorted and unique.
    """
    for name, keys in lists.items():
        if len(keys) > 1 and not bool(np.all(np.diff(keys) > 0)):
            raise ValueError(f"do-not-call list {name!r} must be sorted and unique (np.unique)")
    primary = phone_key(df[PHONE_E164]).to_numpy()
    alt_at, alt_keys = _alternates(df)
    checks = []
    for name, keys in lists.items():
        hit = contains(keys, primary)
        hit[alt_at[contains(keys, alt_keys)]] = True
        checks.append((hit, name))
    names = combine_reasons(checks, df.index, sep=", ")
    return mark(df, names.notna(), Outcome.SUPPRESSED, "on do-not-call list (" + names + ")")


def contains(keys: KeyArray, values: KeyArray) -> npt.NDArray[np.bool_]:
    """True where a value is in the sorted unique ``keys`` (binary search; 0 never matches)."""
    if len(keys) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    found: npt.NDArray[np.bool_] = (keys[at] == values) & (values > 0)
    return found


def _alternates(df: pd.DataFrame) -> tuple[KeyArray, KeyArray]:
    """Positions and phone keys of every alternate phone, exploded once."""
    if ALT_PHONES not in df.columns:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    alts = pd.Series(df[ALT_PHONES].astype("string").array, index=pd.RangeIndex(len(df)))
    exploded = alts.dropna().str.split("|").explode().astype("string").str.strip()
    exploded = exploded[exploded != ""]
    return exploded.index.to_numpy(dtype=np.int64), phone_key(exploded).to_numpy()
