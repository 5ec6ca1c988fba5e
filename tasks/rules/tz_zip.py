"""US ZIP code to candidate zones: zipcodes' zone, cross-checked with tzfpy at the ZIP's centre."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import tzfpy
import zipcodes

from tasks.rules.zones import ZONE_SEP, unique_values

#: Instants at which two zones must have the same offset to count as the same zone.
_PROBES: Final = tuple(datetime(2027, month, 15, 12) for month in (1, 7))
_ZIP = r"^(\d{3,5})(?:-?\d{4})?(?:\.0)?$"


@cache
def _offsets(zone: str) -> tuple[timedelta | None, ...] | None:
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return tuple(t.replace(tzinfo=tz).utcoffset() for t in _PROBES)


def zip_zone_set(seed: str, lat: float, lon: float) -> str | None:
    """The zone set of one ZIP from its listed zone and its centroid.

    The listed zone is kept; the zone tzfpy finds at the centroid is added when its
    offsets differ (a boundary ZIP such as Phenix City, AL or West Wendover, NV). Invalid
    listed zones and (0, 0) centroids are ignored.
    """
    listed = seed if _offsets(seed) else None
    at = tzfpy.get_tz(lon, lat) if (lat, lon) != (0.0, 0.0) else ""
    found = at if at and not at.startswith("Etc/") and _offsets(at) else None
    if listed and found and _offsets(listed) != _offsets(found):
        return f"{listed}{ZONE_SEP}{found}"
    return listed or found


@cache
def zip_table() -> dict[str, str]:
    """ZIP (5 digits) to zone set for every non-military ZIP, built once per process."""
    table = {}
    for rec in zipcodes.list_all():  # type: ignore[no-untyped-call]
        if rec["zip_code_type"] == "MILITARY":
            continue
        zones = zip_zone_set(rec["timezone"], float(rec["lat"] or 0), float(rec["long"] or 0))
        if zones:
            table[rec["zip_code"]] = zones
    return table


def zip5(values: pd.Series) -> pd.Series:
    """Five-digit ZIPs from raw ZIP values: ZIP+4 cut, lost leading zeros restored, junk <NA>."""
    raw = values.astype("string").str.strip()
    return raw.str.extract(_ZIP, expand=False).str.zfill(5)


def zip_zones(zip: pd.Series) -> pd.Series:
    """Candidate IANA zones of US ZIP codes (``zipcodes`` data, cross-checked with ``tzfpy``).

    Accepts "02134", "2134" (leading zero lost), "02134-1234", "021341234" and numbers.
    ZIPs where the two sources disagree get both zones ("America/Chicago|America/New_York"
    for Phenix City, AL). Military (APO/FPO), unknown and malformed ZIPs give <NA>.

    Args:
        zip: the ZIP column.

    Returns:
        A "string" Series of "|"-joined zone sets, <NA> where unknown.
    """
    return pd.Series(zip_zone_values(zip), index=zip.index, dtype="string")


def zip_zone_values(zip: pd.Series) -> npt.NDArray[np.object_]:
    """:func:`zip_zones` as an object array (None where unknown)."""
    table = zip_table()
    return unique_values(zip, lambda u: zip5(u).map(table))
