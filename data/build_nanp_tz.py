"""Regenerate data/nanp_tz.csv and data/npa_state.csv from phonenumbers, zipcodes and the overrides."""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import zipcodes
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.tzdata import TIMEZONE_DATA

from tasks.rules.tzdata_check import ensure_tzdata

DATA_DIR = Path(__file__).resolve().parent
OVERRIDES = DATA_DIR / "nanp_tz_overrides.csv"
PREFIX_FILE = DATA_DIR / "nanp_tz.csv"
STATE_FILE = DATA_DIR / "npa_state.csv"
PREFIX_COLUMNS = ("prefix", "zones", "split_flag", "source", "note")
STATE_COLUMNS = ("npa", "state", "region", "source")

#: Regions whose NPAs carry a state-like code of their own (US territories).
TERRITORIES = frozenset({"PR", "VI", "GU", "MP", "AS"})

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington State": "WA",
    "Washington": "WA", "Washington D.C.": "DC", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY",
}
CA_PROVINCES = {
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB",
    "New Brunswick": "NB", "Newfoundland and Labrador": "NL", "Nova Scotia": "NS",
    "Northwest Territories": "NT", "Nunavut": "NU", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK", "Yukon": "YT",
}
_SUFFIX = re.compile(r", ([A-Z]{2})$")
#: Instants (2027, after the 2026 Canadian changes) at which two zones must agree to count as one.
_PROBES = tuple(datetime(2027, month, 15, 12) for month in (1, 4, 7, 10))


def phonenumbers_prefixes() -> dict[str, tuple[str, ...]]:
    """NANP prefixes (without the country code 1) of phonenumbers' time-zone table."""
    return {k[1:]: tuple(v) for k, v in TIMEZONE_DATA.items() if k.startswith("1") and len(k) > 1}


def read_overrides(path: Path = OVERRIDES) -> list[dict[str, str]]:
    """The curated override rows, in file order."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def _offsets(zone: str) -> tuple[timedelta | None, ...]:
    tz = ZoneInfo(zone)
    return tuple(t.replace(tzinfo=tz).utcoffset() for t in _PROBES)


def _covered(zone: str, zone_set: Iterable[str]) -> bool:
    return any(_offsets(zone) == _offsets(other) for other in zone_set)


def build_prefix_table(overrides: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    """The prefix table rows: phonenumbers' data with the curated overrides applied.

    Args:
        overrides: override rows (default: data/nanp_tz_overrides.csv).

    Returns:
        Rows with ``PREFIX_COLUMNS``, sorted by prefix.

    Raises:
        ValueError: an override names an unknown zone or parent, or a split set misses a
            zone that one of the NPA's own NXX entries uses.
    """
    rows = {
        p: {"prefix": p, "zones": "|".join(z), "split_flag": "False", "source": "phonenumbers",
            "note": ""}
        for p, z in phonenumbers_prefixes().items()
    }
    for o in overrides if overrides is not None else read_overrides():
        prefix, parent = o["prefix"], o["copy_of"]
        if parent and parent not in rows:
            raise ValueError(f"override {prefix}: unknown parent {parent}")
        zones = rows[parent]["zones"] if parent else o["zones"]
        for zone in zones.split("|"):
            ZoneInfo(zone)
        rows[prefix] = {
            "prefix": prefix, "zones": zones, "split_flag": o["split_flag"] or "False",
            "source": f"overlay:{parent}" if parent else "override", "note": o["note"],
        }
    for row in rows.values():
        if row["split_flag"] != "True":
            continue
        npa_set = row["zones"].split("|")
        for other in rows.values():
            if other["prefix"].startswith(row["prefix"]) and other is not row:
                missing = [z for z in other["zones"].split("|") if not _covered(z, npa_set)]
                if missing:
                    raise ValueError(f"split {row['prefix']} misses {missing} of {other['prefix']}")
    return [rows[p] for p in sorted(rows)]


def _region(npa: str) -> str | None:
    for nxx in ("234", "200", "456", "555", "300", "700", "900"):
        region = phonenumbers.region_code_for_number(phonenumbers.parse(f"+1{npa}{nxx}1234"))
        if region:
            return str(region)
    return None


def _zip_majority_state() -> dict[str, str]:
    counts: dict[str, Counter[str]] = {}
    for rec in zipcodes.list_all():
        for npa in rec["area_codes"]:
            counts.setdefault(npa, Counter())[rec["state"]] += 1
    return {npa: c.most_common(1)[0][0] for npa, c in counts.items()}


def _geocoded_state(npa: str, names: dict[str, str]) -> str | None:
    text = GEOCODE_DATA.get(f"1{npa}", {}).get("en", "")
    first = text.split("/")[0]
    if first in names:
        return names[first]
    if m := _SUFFIX.search(text):
        return m.group(1)
    codes = set(names.values())
    tally = Counter(
        m.group(1)
        for key, value in GEOCODE_DATA.items()
        if key.startswith(f"1{npa}") and (m := _SUFFIX.search(value.get("en", "")))
        and m.group(1) in codes
    )
    return tally.most_common(1)[0][0] if tally else None


def build_state_table(npas: Iterable[str]) -> list[dict[str, str]]:
    """State or province of each NANP area code, with the region it belongs to.

    US area codes take the state most of their ZIPs lie in (zipcodes ``area_codes``),
    else phonenumbers' geocoder; Canadian ones the province from the geocoder (the first
    one where it lists several, e.g. 867 -> NT); US territories their own code. Area codes
    of other countries are left out.

    Args:
        npas: three-digit area codes.

    Returns:
        Rows with ``STATE_COLUMNS``, sorted by area code.
    """
    by_zip = _zip_majority_state()
    out = []
    for npa in sorted(set(npas)):
        region = _region(npa)
        state, source = None, "geocoder"
        if region in TERRITORIES:
            state, source = region, "region"
        elif region == "US":
            state = by_zip.get(npa)
            source = "zipcodes" if state else source
            state = state or _geocoded_state(npa, US_STATES)
        elif region == "CA":
            state = _geocoded_state(npa, CA_PROVINCES)
        if state and region:
            out.append({"npa": npa, "state": state, "region": region, "source": source})
    return out


def _render(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    lines = [",".join(columns)]
    for row in rows:
        cells = (row[c] for c in columns)
        lines.append(",".join(f'"{c}"' if "," in c else c for c in cells))
    return "\n".join(lines) + "\n"


def render_all() -> dict[Path, str]:
    """The text of every generated file, keyed by its path."""
    prefixes = build_prefix_table()
    npas = {r["prefix"][:3] for r in prefixes}
    return {
        PREFIX_FILE: _render(prefixes, PREFIX_COLUMNS),
        STATE_FILE: _render(build_state_table(npas), STATE_COLUMNS),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the generated files, or with ``--check`` report whether they are current."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    ensure_tzdata()
    stale = []
    for path, text in render_all().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.name}: {text.count(chr(10)) - 1} rows")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python data/build_nanp_tz.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
