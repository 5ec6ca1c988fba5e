"""A fixed corpus of messy phone values and the recorded answers of the phone rules on it.

``python tests/rules/phone_golden.py`` records ``phone_golden.json`` again from the current code.
A change of behaviour then shows as a diff of that file: read it, and commit it with the change.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pandas as pd

GOLDEN = Path(__file__).with_name("phone_golden.json")
SEED = 20261206

NPAS = ["415", "212", "613", "876", "787", "671", "340", "800", "999", "900", "211", "555", "015", "120"]
FOREIGN = [
    "+44 20 7946 0958", "+52 55 5555 5555", "020 7946 0958", "+61 2 9876 5432", "+39 06 1234 5678",
    "+800 1234 5678", "011 44 20 7946 0958", "+44 12", "+999 123", "+49 30 901820", "0044 20 7946 0958",
]
JUNK = ["N/A", "TBD", "abc", "", "  ", "+", "++1", "x", "#", "()", "\u00a0", "\t", "☎", "\uff15\uff15\uff15", "1" * 25]
STYLES = ["{a}{b}{c}", "({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a} {b} {c}"]
PREFIXES = ["", "", "1", "1-", "+1 ", "+1", "001 ", "011 ", "+", "+44 ", "  "]
SUFFIXES = ["", "", " x123", " ext. 12", " Extension 7", " #4", "x", " x1234567", "\t", " ", "7"]
SEPARATORS = ["|", " | ", ";", ", ", "/", "/ "]
SCRAMBLE = "0123456789 +-().x#|;,/"

NUMBERS, ROWS = 600, 400
PARSED = ("e164", "region", "problem")
NORMALIZED = ("phone_e164", "alt_phones", "phone_region", "outcome", "reason")

#: The option sets the answers are recorded for.
OPTIONS: dict[str, dict[str, Any]] = {
    "us": {"default_region": "US"},
    "ca-fictional": {"default_region": "CA", "allowed_regions": {"US", "CA"}, "allow_fictional": True},
    "gb-only": {"default_region": "GB", "allowed_regions": {"GB"}},
}
#: The option sets ``normalize_phones`` is recorded for (it parses with ``parse_numbers``).
NORMALIZE_WITH = ("us", "ca-fictional")


def number(rng: random.Random) -> str:
    """One phone-like value: a NANP number in some style (maybe cut short), a foreign one, junk or noise."""
    kind = rng.random()
    if kind < 0.15:
        return rng.choice(FOREIGN + JUNK)
    if kind < 0.25:
        return "".join(rng.choice(SCRAMBLE) for _ in range(rng.randint(0, 16)))
    nxx = rng.choice(["555", "911", "411", "067", "234", "867", f"{rng.randint(0, 999):03d}"])
    line = rng.choice(["0150", "0199", "0200", "5309", f"{rng.randint(0, 9999):04d}"])
    text = rng.choice(PREFIXES) + rng.choice(STYLES).format(a=rng.choice(NPAS), b=nxx, c=line)
    if rng.random() < 0.3:
        text = text[: rng.randint(0, len(text))]
    return text + rng.choice(SUFFIXES)


def field(rng: random.Random) -> str | None:
    """A phone field: missing, one number, or up to four joined by separators."""
    if rng.random() < 0.1:
        return None
    parts = [number(rng) for _ in range(rng.randint(1, 4))]
    return "".join(part + rng.choice(SEPARATORS) for part in parts[:-1]) + parts[-1]


def corpus() -> dict[str, list[Any]]:
    """The inputs: single values for ``parse_numbers``, and the rows of a chunk for ``normalize_phones``."""
    rng = random.Random(SEED)
    numbers = [None if rng.random() < 0.05 else number(rng) for _ in range(NUMBERS)]
    rows = [[field(rng), field(rng) if rng.random() < 0.4 else None, rng.random() < 0.1] for _ in range(ROWS)]
    return {"numbers": numbers, "rows": rows}


def chunk(rows: list[list[Any]]) -> pd.DataFrame:
    """The chunk ``normalize_phones`` gets (``phone``, ``phones``, decided): some rows decided, the index shuffled."""
    phone, phones, decided = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame({
        "row": range(1, len(rows) + 1),
        "phone": pd.array(phone, dtype="string"),
        "phones": pd.array(phones, dtype="string"),
        "outcome": pd.array(["duplicate" if d else None for d in decided], dtype="string"),
        "reason": pd.array(["earlier" if d else None for d in decided], dtype="string"),
    }, index=random.Random(SEED).sample(range(100, 100 + len(rows)), len(rows)))


def plain(values: pd.Series) -> list[str | None]:
    """A string column as JSON values."""
    return [None if pd.isna(v) else str(v) for v in values]


def parse_answers(numbers: list[str | None], options: dict[str, Any]) -> list[list[str | None]]:
    """``e164``, ``region`` and ``problem`` of each value."""
    from tasks.rules.phones import parse_numbers

    parsed = parse_numbers(pd.Series(numbers, dtype="string"), **options)
    return [list(t) for t in zip(*(plain(parsed[c]) for c in PARSED), strict=True)]


def normalize_answers(rows: list[list[Any]], options: dict[str, Any]) -> list[list[str | None]]:
    """The columns ``normalize_phones`` sets, for each row."""
    from tasks.rules.phones import normalize_phones

    done = normalize_phones(chunk(rows), **options)
    return [list(t) for t in zip(*(plain(done[c]) for c in NORMALIZED), strict=True)]


def recorded() -> dict[str, list[Any]]:
    """The committed corpus with its answers: one entry per input, each ``[input, {option set: answer}]``."""
    data: dict[str, list[Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def record() -> None:
    """Write the corpus and the current code's answers to ``phone_golden.json``, one input per line."""
    inputs = corpus()
    parsed = {name: parse_answers(inputs["numbers"], options) for name, options in OPTIONS.items()}
    normalized = {name: normalize_answers(inputs["rows"], OPTIONS[name]) for name in NORMALIZE_WITH}
    sections = {
        "parse_numbers": [[v, {n: a[i] for n, a in parsed.items()}] for i, v in enumerate(inputs["numbers"])],
        "normalize_phones": [[r, {n: a[i] for n, a in normalized.items()}] for i, r in enumerate(inputs["rows"])],
    }
    text = ",\n".join(
        f"{json.dumps(name)}: [\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + "\n]"
        for name, entries in sections.items())
    GOLDEN.write_text("{\n" + text + "\n}\n", encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    record()
