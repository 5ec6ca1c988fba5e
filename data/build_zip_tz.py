"""Regenerate data/zip_tz.csv (ZIP code to candidate zones) from zipcodes, cross-checked with tzfpy.

Each non-military ZIP keeps the zone zipcodes lists for it; the zone tzfpy finds at the ZIP's
centroid is added when its offsets differ (a boundary ZIP such as Phenix City, AL or West
Wendover, NV). Invalid listed zones and (0, 0) centroids are ignored. The runtime
(tasks/rules/tz_zip.py) only reads the table; tests/rules/test_timezones.py checks that it is
current (``main(["--check"])``).
"""

from __future__ import annotations

import argparse
import sys
import zoneinfo
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import tzfpy
import zipcodes

from tasks.rules.tzdata_check import ensure_tzdata

DATA_DIR = Path(__file__).resolve().parent
ZIP_FILE = DATA_DIR / "zip_tz.csv"
ZIP_COLUMNS = ("zip", "zones")
ZONE_SEP = "|"
#: Instants at which two zones must have the same offset to count as the same zone.
_PROBES = tuple(datetime(2027, month, 15, 12) for month in (1, 7))


@cache
def _offsets(zone: str) -> tuple[timedelta | None, ...] | None:
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return tuple(t.replace(tzinfo=tz).utcoffset() for t in _PROBES)


def zip_zone_set(seed: str, lat: float, lon: float) -> str | None:
    """The zone set of one ZIP from its listed zone and its centroid."""
    listed = seed if _offsets(seed) else None
    at = tzfpy.get_tz(lon, lat) if (lat, lon) != (0.0, 0.0) else ""
    found = at if at and not at.startswith("Etc/") and _offsets(at) else None
    if listed and found and _offsets(listed) != _offsets(found):
        return f"{listed}{ZONE_SEP}{found}"
    return listed or found


def build_zip_table() -> dict[str, str]:
    """ZIP (5 digits) to zone set for every non-military ZIP with a zone, sorted by ZIP."""
    table = {}
    for rec in zipcodes.list_all():
        if rec["zip_code_type"] == "MILITARY":
            continue
        zones = zip_zone_set(rec["timezone"], float(rec["lat"] or 0), float(rec["long"] or 0))
        if zones:
            table[rec["zip_code"]] = zones
    return dict(sorted(table.items()))


def render() -> str:
    """The text of data/zip_tz.csv."""
    lines = [",".join(ZIP_COLUMNS), *(f"{z},{zones}" for z, zones in build_zip_table().items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write data/zip_tz.csv, or with ``--check`` report whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    ensure_tzdata()
    text = render()
    if args.check:
        if ZIP_FILE.exists() and ZIP_FILE.read_text(encoding="utf-8") == text:
            return 0
        print(f"out of date: {ZIP_FILE.name}; run python data/build_zip_tz.py", file=sys.stderr)
        return 1
    ZIP_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {ZIP_FILE.name}: {text.count(chr(10)) - 1} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
