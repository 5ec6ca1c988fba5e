"""Reference data for the lead generator: area codes, zones, ZIPs, names, and edge rows."""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Final, NamedTuple

import numpy as np
import phonenumbers
import pyarrow as pa
import zipcodes

from benchmarks.generate_text import Arr

#: (state, zone key, area codes): ~190 assigned NANP area codes, split ones included.
AREA_CODES: Final = """
AL|C|205|251|256|334|938 AK|K|907 AZ|Z|480|520|602|623|928 AR|C|479|501|870 CO|M|303|719|720|970
CA|P|209|213|310|323|408|415|510|530|559|562|619|626|650|661|707|714|760|805|818|858|909|916|925
CA|P|949|951 CT|E|203|860 DE|E|302 DC|E|202 FL|C|850 FL|E|239|305|321|352|386|407|561|727|754|772
FL|E|786|813|863|904|941|954 GA|E|229|404|470|478|678|706|770|912 HI|H|808 ID|M|208 IN|C|219
IL|C|217|309|312|618|630|708|773|815|847 IN|E|260|317|574|765|812 IA|C|319|515|563|712 KY|C|270
KS|C|316|620|785|913 KY|E|502|606|859 LA|C|225|318|337|504|985 ME|E|207 MD|E|240|301|410|443
MA|E|413|508|617|781|978 MI|E|231|248|313|517|586|616|734|810|906 MN|C|218|507|612|651|763|952
MS|C|228|601|662 MO|C|314|417|573|636|816 MT|M|406 NE|C|308|402 NV|P|702|775 NH|E|603
NJ|E|201|609|732|856|908|973 NM|M|505|575 NY|E|212|315|347|516|518|585|607|631|646|716|718|845
NY|E|914|917 NC|E|252|336|704|828|910|919|980 ND|C|701 OH|E|216|330|419|440|513|614|740|937
OK|C|405|580|918 OR|P|503|541|971 PA|E|215|267|412|484|570|610|717|724|814 RI|E|401 SD|C|605
SC|E|803|843|864 TN|E|423|865 TN|C|615|731|901|931 TX|C|210|214|254|281|361|409|432|512|713|806
TX|C|817|830|903|936|940|956|972|979 TX|M|915 UT|M|385|435|801 VT|E|802 WV|E|304 WY|M|307
VA|E|276|434|540|571|703|757|804 WA|P|206|253|360|425|509 WI|C|262|414|608|715|920 PR|A|787|939
VI|A|340 GU|G|671 ON|T|416|613|647 QC|T|514 BC|V|604|778 AB|D|403|780 MB|W|204 SK|R|306 NS|F|902
NL|N|709
"""#: Zone key -> (IANA, abbreviation, Windows name, offset), the spellings a CRM export mixes.
ZONES: Final = {
    "E": ("America/New_York", "EST", "Eastern Standard Time", "UTC-5"),
    "C": ("America/Chicago", "CST", "Central Standard Time", "UTC-6"),
    "M": ("America/Denver", "MST", "Mountain Standard Time", "UTC-7"),
    "Z": ("America/Phoenix", "MST", "US Mountain Standard Time", "UTC-7"),
    "P": ("America/Los_Angeles", "PST", "Pacific Standard Time", "UTC-8"),
    "K": ("America/Anchorage", "AKST", "Alaskan Standard Time", "UTC-9"),
    "H": ("Pacific/Honolulu", "HST", "Hawaiian Standard Time", "UTC-10"),
    "A": ("America/Puerto_Rico", "AST", "SA Western Standard Time", "UTC-4"),
    "G": ("Pacific/Guam", "ChST", "West Pacific Standard Time", "UTC+10"),
    "T": ("America/Toronto", "EST", "Eastern Standard Time", "UTC-5"),
    "V": ("America/Vancouver", "PST", "Pacific Standard Time", "UTC-8"),
    "D": ("America/Edmonton", "MST", "Mountain Standard Time", "UTC-7"),
    "W": ("America/Winnipeg", "CST", "Central Standard Time", "UTC-6"),
    "R": ("America/Regina", "CST", "Canada Central Standard Time", "UTC-6"),
    "F": ("America/Halifax", "AST", "Atlantic Standard Time", "UTC-4"),
    "N": ("America/St_Johns", "NST", "Newfoundland Standard Time", "UTC-3:30"),
}
CANADA: Final = {
    "ON": ("Toronto M5V 2T6", "Ottawa K1P 5J2", "Mississauga L5B 3C2"),
    "QC": ("Montréal H3B 4W8", "Laval H7N 5H9"), "BC": ("Vancouver V6B 1A1", "Burnaby V5H 4M2"),
    "AB": ("Calgary T2P 2M5", "Edmonton T5J 0N3"), "MB": ("Winnipeg R3C 4T3",),
    "SK": ("Regina S4P 3Y2",), "NS": ("Halifax B3H 4R2",), "NL": ("St. John's A1C 5M2",),
}
FIRST_NAMES: Final = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul "
    "Donna Joshua Michelle Kevin Amanda Brian Melissa George Stephanie Jason Rebecca Eric Laura "
    "Ryan Angela Jacob Emma Justin Nicole Brandon Rachel Maria Carlos Luis Ana Juan Rosa Wei "
    "Priya Mohammed Aisha DeShawn Keisha Tyrone Latoya Mary-Kate Jean-Luc",
    "José María Zoë Renée Chloé François Björn Siobhán Inés Raúl Åsa Jürgen Noémie Héctor "
    "Çağla Łukasz/lukasz Đorđe/djordje Núria Thảo Søren",
    "王/wei 李/li Дмитрий/dmitriy Ольга/olga محمد/mohamed 김민준/minjun さくら/sakura "
    "Γιώργος/giorgos אביגיל/avigail",
)
LAST_NAMES: Final = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales "
    "Murphy Cook Rogers Ortiz Morgan Cooper Kim Patel O'Brien O'Neil McDonald Smith-Jones",
    "Müller Núñez Peña Gómez Ibáñez Åström Kovačević Dvořák Łęcki/lecki Nguyễn Trần Lefèvre Côté "
    "Gagné Bélanger Sørensen Özdemir Pérez-García Weiß/weiss",
    "王/wang 李/li Иванов/ivanov Смирнова/smirnova العلي/alali 김/kim 佐藤/sato "
    "Παπαδόπουλος/papadopoulos כהן/cohen",
)
NAME_CLASS_P: Final = (0.88, 0.09, 0.03)
DOMAINS: Final = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "yahoo.com", "hotmail.com", "outlook.com",
    "aol.com", "icloud.com", "comcast.net", "att.net", "verizon.net", "msn.com", "live.com",
    "protonmail.com", "acme-roofing.com", "brightsolar.io", "example.org",
)
LOCAL_PARTS: Final = ("{f}.{l}", "{f}{l}{n}", "{i}{l}", "{f}_{l}{n}", "{l}.{f}")
BAD_EMAILS: Final = ("{e}{d}", "{e}@@{d}", "{e}@.{d}", "{e}@", "{e} at {d}")
STREETS: Final = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
    "Ridge", "Church", "Highland", "Forest", "River", "Spring", "Meadow", "Willow", "Lincoln",
    "Jefferson", "Madison", "Franklin", "Martin Luther King Jr", "Cherry Blossom", "Camino Real",
    "Calle del Sol", "Old Mill", "Peachtree", "Bayou",
)
SUFFIXES: Final = ("St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Ct", "Pl", "Pkwy", "Street", "Avenue")
UNITS: Final = ("", ", Apt {u}", ", Suite {u}", " #{u}", " Unit {u}")
SOURCES: Final = (
    "Web Form", "Facebook Ads", "Google Ads", "Referral", "Trade Show", "Purchased List",
    "Inbound Call", "Webinar", "Partner", "web form",
)
PRODUCTS: Final = (
    "", "Solar", "Home Insurance", "Auto Insurance", "Medicare Advantage", "Final Expense",
    "Debt Relief", "Home Security", "Roofing", "HVAC", "Life Insurance",
)
#: Hand-written edge cases appended by ``--edge-rows`` (after the generated rows).
EDGE_ROWS: Final = (
    ("EDGE-001", "Robert", "Smith, Jr.", "+1 415.592.0100", "", "bob.smith@example.org",
     "100 Main St, Suite 5", "San Francisco", "CA", "94105", "", "Referral", "Solar, Roofing", "88"),
    ("EDGE-002", "Oliver", "Hughes", "+44 20 7946 0018", "", "oliver.hughes@example.co.uk",
     "10 Downing St", "London", "", "SW1A 2AA", "Europe/London", "Webinar", "HVAC", "41"),
    ("EDGE-003", "Émilie", "Tremblay", "(604) 681-2345", "778-945-0101", "emilie.t@example.ca",
     "800 Robson St", "Vancouver", "BC", "V6Z 3B7", "", "Web Form", "Home Security", "67"),
    ("EDGE-004", "Diego", "Ramírez", "602.364.1234", "", "diego.ramirez@example.com",
     "200 W Washington St", "Phoenix", "AZ", "85003", "MST", "Google Ads", "Solar", "75"),
    ("EDGE-005", "Keoni", "Kahale", "808 536 1234", "", "keoni@example.com",
     "1001 Bishop St", "Honolulu", "HI", "96813", "Pacific/Honolulu", "Referral", "Roofing", "59"),
    ("EDGE-006", "Sasha", "Petrov", "1-907-277-1234", "(907) 452-7788|+1 907.586.2020",
     "sasha.petrov@example.com", "632 W 6th Ave", "Anchorage", "AK", "99501", "", "Partner",
     "Life Insurance", "33"),
    ("EDGE-007", "Marisol", "Colón", "787-721-1234", "", "marisol.colon@example.com",
     "Calle Fortaleza 52", "San Juan", "PR", "901", "AST", "Inbound Call", "Auto Insurance", "90"),
)


class Tables(NamedTuple):
    """Lookup arrays: per area code (npa, zone, state), per ZIP row, and names to show."""

    npa: Arr
    zone: Arr
    state: Arr
    us_codes: Arr
    zip_start: Arr
    zip_count: Arr
    zip_us: Arr
    zip_zero: Arr
    zip_code: pa.Array
    zip_city: pa.Array
    state_names: pa.Array
    zone_names: pa.Array
    exchanges: dict[int, Arr]


@cache
def tables() -> Tables:
    """The lookup arrays, built once from ``AREA_CODES``, ``zipcodes`` and ``CANADA``."""
    codes = [(st, z, int(npa)) for grp in AREA_CODES.split() for st, z, *npas in [grp.split("|")]
             for npa in npas]
    states = sorted({st for st, _, _ in codes})
    zips_by_state: dict[str, list[tuple[str, str]]] = {st: [] for st in states}
    records = zipcodes.list_all()  # type: ignore[no-untyped-call]
    for rec in sorted(records, key=lambda r: str(r["zip_code"])):
        if rec["zip_code_type"] == "STANDARD" and rec["active"] and rec["state"] in zips_by_state:
            zips_by_state[rec["state"]].append((rec["zip_code"], rec["city"]))
    for st, places in CANADA.items():
        zips_by_state[st] = [(p[-7:], p[:-8]) for p in places]
    counts = np.array([len(zips_by_state[st]) for st in states])
    flat = [z for st in states for z in zips_by_state[st]]
    return Tables(
        npa=np.array([n for _, _, n in codes]),
        zone=np.array([list(ZONES).index(z) for _, z, _ in codes]),
        state=np.array([states.index(st) for st, _, _ in codes]),
        us_codes=np.flatnonzero([st not in CANADA for st, _, _ in codes]),
        zip_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        zip_count=counts,
        zip_us=np.array([z.isdigit() for z, _ in flat]),
        zip_zero=np.array([z.startswith("0") for z, _ in flat]),
        zip_code=pa.array([z for z, _ in flat]),
        zip_city=pa.array([c for _, c in flat]),
        state_names=pa.array(states),
        zone_names=pa.array([v for z in ZONES.values() for v in z]),
        exchanges={npa: valid for _, _, npa in codes if _region(npa) not in ("US", "CA")
                   for valid in [_valid_exchanges(npa)] if len(valid) < 700},
    )


def _region(npa: int) -> str | None:
    number = phonenumbers.parse(f"+1{npa}2000000")
    region: str | None = phonenumbers.region_code_for_number(number)
    return region


def _valid_exchanges(npa: int) -> Arr:
    """Exchanges valid in ``npa`` per phonenumbers' metadata (territories assign only some)."""
    return np.array([nxx for nxx in range(200, 1000) if nxx % 100 != 11 and
                     phonenumbers.is_valid_number(phonenumbers.parse(f"+1{npa}{nxx}0000"))])


@cache
def names(pools: tuple[str, ...]) -> tuple[pa.Array, pa.Array, Arr, Arr]:
    """Names, their e-mail slugs, and each pool's start and size in them."""
    entries = [[e.partition("/") for e in pool.split()] for pool in pools]
    shown = [name for pool in entries for name, _, _ in pool]
    slugs = [slug or _slug(name) for pool in entries for name, _, slug in pool]
    counts = np.array([len(p) for p in entries])
    return pa.array(shown), pa.array(slugs), np.concatenate([[0], np.cumsum(counts)[:-1]]), counts


@cache
def pool(values: tuple[str, ...]) -> pa.Array:
    """``values`` as an Arrow string array, to ``take`` from."""
    return pa.array(values, pa.string())


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())
