"""Make zoneinfo use the pinned ``tzdata`` wheel instead of the system's older zone files."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

#: A fact only IANA tz 2026 and later know: British Columbia stays on UTC-7 from 2026-11-01.
_PROBE_ZONE = "America/Vancouver"
_PROBE_MOMENT = datetime(2026, 12, 15, 12, 0)
_PROBE_OFFSET = timedelta(hours=-7)


def ensure_tzdata() -> None:
    """Point zoneinfo at the ``tzdata`` wheel only, then prove the data is current.

    Python's zoneinfo prefers the system zone files (often years old) over the
    ``tzdata`` package. This empties the search path, clears zoneinfo's caches and
    checks that America/Vancouver is UTC-7 on 2026-12-15. Safe to call repeatedly.

    Raises:
        RuntimeError: the installed zone data predates IANA tz 2026 or is missing.
    """
    if zoneinfo.TZPATH:
        zoneinfo.reset_tzpath(to=[])
        zoneinfo.ZoneInfo.clear_cache()
    try:
        offset = _PROBE_MOMENT.replace(tzinfo=zoneinfo.ZoneInfo(_PROBE_ZONE)).utcoffset()
    except zoneinfo.ZoneInfoNotFoundError as exc:
        raise RuntimeError(
            "time-zone data not found: install the 'tzdata' package (>= 2026.6)"
        ) from exc
    if offset != _PROBE_OFFSET:
        hours = offset.total_seconds() / 3600 if offset is not None else float("nan")
        raise RuntimeError(
            f"stale time-zone data: {_PROBE_ZONE} is UTC{hours:+g} on {_PROBE_MOMENT:%Y-%m-%d}, "
            "expected UTC-7; upgrade the 'tzdata' package (>= 2026.6)"
        )


ensure_tzdata()
