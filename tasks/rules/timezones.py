"""Time zone of each lead: from an explicit zone, the ZIP code or the phone's area code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import PHONE_E164, TIMEZONE, TZ_SOURCE, TZ_ZONES, ZIP
from tasks.rules.tz_npa import npa_state, npa_zone_codes, npa_zones
from tasks.rules.tz_zip import zip_zone_codes, zip_zones
from tasks.rules.tzdata_check import ensure_tzdata
from tasks.rules.zones import parse_zone

__all__ = [
    "FALLBACK", "OPTIONS", "SOURCES", "assign_timezones", "ensure_tzdata", "npa_state",
    "npa_zones", "zip_zones",
]

ensure_tzdata()

NPA_NXX: Final = "NPA_NXX"
ZIPCODE: Final = "ZIPCODE"
EXPLICIT: Final = "EXPLICIT"
NOT_APPLICABLE: Final = "NOT_APPLICABLE"
AUTO: Final = "AUTO"
#: TZ_SOURCE of leads that got the caller's fallback zone.
FALLBACK: Final = "FALLBACK"
OPTIONS: Final = (AUTO, NPA_NXX, ZIPCODE, EXPLICIT, NOT_APPLICABLE)
SOURCES: Final = (NPA_NXX, ZIPCODE, EXPLICIT, NOT_APPLICABLE, FALLBACK)
_SOURCE_VOCAB: Final[tuple[str | None, ...]] = (None, *SOURCES)

#: A finder maps a column to codes into a list of zone sets (a None entry: no zone).
_Vocab = Sequence[str | None] | npt.NDArray[np.object_]
_Finder = Callable[[pd.Series], tuple[npt.NDArray[np.integer[Any]], _Vocab]]


def _explicit_codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], list[str | None]]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes + 1, [None, *(parse_zone(str(u)) for u in pd.Series(uniques))]


_FINDERS: Final[dict[str, tuple[str, _Finder]]] = {
    EXPLICIT: (TIMEZONE, _explicit_codes),
    ZIPCODE: (ZIP, zip_zone_codes),
    NPA_NXX: (PHONE_E164, npa_zone_codes),
}
_AUTO_ORDER: Final = (EXPLICIT, ZIPCODE, NPA_NXX)


def _plan(option: str, fallback: str | None) -> tuple[tuple[str, ...], str | None]:
    if option not in OPTIONS:
        raise ValueError(f"unknown time-zone option {option!r}; expected one of {OPTIONS}")
    order = _AUTO_ORDER if option == AUTO else () if option == NOT_APPLICABLE else (option,)
    if fallback is None:
        return order, None
    if option == NOT_APPLICABLE:
        raise ValueError("a fallback makes no sense with NOT_APPLICABLE")
    if fallback.upper() in _FINDERS:
        return (*order, fallback.upper()), None
    zone = parse_zone(fallback)
    if zone is None:
        raise ValueError(f"fallback {fallback!r} is neither an option nor a known time zone")
    return order, zone


def assign_timezones(df: pd.DataFrame, option: str, *, fallback: str | None = None) -> pd.DataFrame:
    """Add the candidate zones (TZ_ZONES) and where they came from (TZ_SOURCE) to leads.

    Options: ``NPA_NXX`` (area code of PHONE_E164), ``ZIPCODE`` (ZIP), ``EXPLICIT``
    (TIMEZONE parsed by :func:`parse_explicit_zone`), ``AUTO`` (explicit, else ZIP, else
    area code) and ``NOT_APPLICABLE`` (no zones; TZ_SOURCE is NOT_APPLICABLE). A missing
    input column counts as all <NA>. ``fallback`` is tried for leads still without a
    zone: another option name (e.g. ZIPCODE with fallback NPA_NXX), or a zone string
    (e.g. "America/New_York") given to all of them with TZ_SOURCE ``FALLBACK``.

    Leads whose zone cannot be found keep <NA> in both columns: the caller decides what
    to do with them (``window_gate`` treats them as anywhere in the continental US).

    Args:
        df: leads with PHONE_E164, ZIP and TIMEZONE (any may be absent).
        option: one of ``OPTIONS`` (case-insensitive).
        fallback: an option or a zone for leads the option leaves without a zone.

    Returns:
        A copy of ``df`` with the "string" columns TZ_ZONES ("|"-joined IANA zones) and
        TZ_SOURCE.

    Raises:
        ValueError: unknown option, or a fallback that is neither an option nor a zone.
    """
    option = option.upper()
    order, fallback_zone = _plan(option, fallback)
    n = len(df)
    # Zone sets and sources as codes into `vocab` and `_SOURCE_VOCAB` (code 0: <NA>).
    vocab: list[str | None] = [None]
    zones = np.zeros(n, dtype=np.int64)
    source = np.full(n, _SOURCE_VOCAB.index(NOT_APPLICABLE) if option == NOT_APPLICABLE else 0,
                     dtype=np.int64)
    for name in order:
        column, finder = _FINDERS[name]
        todo = np.flatnonzero(zones == 0)
        if column not in df.columns or not len(todo):
            continue
        # A finder reads each row alone: for most of the rows, reading all beats gathering those to do.
        every = 2 * len(todo) > n
        codes, found = finder(df[column] if every else df[column].iloc[todo])
        if every and len(todo) < n:
            codes = codes[todo]
        hit = np.array([z is not None for z in found], dtype=bool)[codes]
        zones[todo[hit]] = codes[hit] + len(vocab)
        source[todo[hit]] = _SOURCE_VOCAB.index(name)
        vocab.extend(found)
    if fallback_zone is not None:
        unset = zones == 0
        zones[unset] = len(vocab)
        vocab.append(fallback_zone)
        source[unset] = _SOURCE_VOCAB.index(FALLBACK)
    return df.assign(**{
        TZ_ZONES: _strings(vocab, zones, df.index),
        TZ_SOURCE: _strings(_SOURCE_VOCAB, source, df.index),
    })


def _strings(vocab: Sequence[str | None], codes: npt.NDArray[np.int64], index: pd.Index) -> pd.Series:
    """A "string" Series of ``vocab[codes]`` (None entries are <NA>)."""
    taken = pc.take(pa.array(vocab, type=pa.large_string()), pa.array(codes))
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([taken])), index=index)
