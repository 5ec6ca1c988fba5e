"""Messy lead chunks and the recorded answers of lead and provider validation on them.

``python tests/schemas/lead_golden.py`` records ``lead_golden.json`` again from the current code.
A change of behaviour then shows as a diff of that file: read it, and commit it with the change.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pandas as pd

GOLDEN = Path(__file__).with_name("lead_golden.json")
SEED = 20261206
PROVIDERS = ("engage-voice", "voiso", "nlpearl", "some-new-dialer")

#: Characters of the messy values: white space of several kinds, non-ASCII letters and digits.
MESSY = "aZz09 @.-+_\t\n\r\x0b\x1c\u00a0\u2003\u00df\u00e9\u0660\uff10"

#: Per column: values worth trying, and (if not 0) the length limit to try values around.
SAMPLES: dict[str, tuple[tuple[str, ...], int]] = {
    "phone_e164": (("+14158675309", "+442071838750", "+0123456789", "+1415", "14158675309", " +14158675309",
                    "+14158675309\n", "+1234567890123456"), 0),
    "external_id": (("L-1", " L-2 ", "", "  "), 100),
    "first_name": (("Ada", "  Ada ", "\u00e9mile"), 100),
    "last_name": (("Lovelace", " x"), 100),
    "email": (("ada@example.org", " ada@example.org ", "ada@example", "a b@c.de", "a@b.c0", "a@@b.com",
               "ada@example.org\n", "x@y.\u00e9\u00e9", "user@sub.example.co.uk"), 254),
    "address1": (("1 Main St",), 255),
    "address2": (("Apt 2",), 255),
    "city": (("Springfield", " Halifax "), 100),
    "state": (("CA", " ny ", "ns", "NS", "on", "California", "C", "\u00df\u00df", "qc\n"), 0),
    "zip": (("94105", "94105-1234", "660", "660-2999", " 2134 ", "2134-1", "k1a0b1", "K1A 0B1", " b3h 4r2 ",
             "941O5", "", "94105\n", "D1A 0B1", "\uff10\uff10660"), 0),
    "country": (("US", "CA", " canada ", "can", "USA", "Mexico"), 0),
    "priority": (("1", "1000", "12.0", "12.00", "0", "1001", "-3", "1e2", "", "5\n", "5.0\n", "\u0665", "99999"), 0),
    "extra.note": (("n",), 255),
    "extra.X-Call-Context": (("promo",), 255),
    "extra.X-Not A Header": (("v",), 0),
    "extra.key\x01": (("v",), 0),
}
#: Columns missing on clean rows: any value in them breaks a provider's rule.
RARE = ("extra.X-Not A Header", "extra.key\x01")
#: The chunks recorded: how many rows, and which columns (all, or the phone and a few).
CHUNKS = ((400, tuple(c for c in SAMPLES if c not in RARE)),
          (150, ("phone_e164", "external_id", "zip", "priority", "extra.X-Call-Context", *RARE)))


def value(rng: random.Random, column: str, messy: bool) -> str | None:
    """A clean value (the column's first sample, or missing), or if ``messy`` any sample, messy text or long text."""
    samples, limit = SAMPLES[column]
    if not messy:
        return None if column in RARE or rng.random() < 0.15 else samples[0]
    kind = rng.random()
    if kind < 0.6:
        return rng.choice(samples)
    if limit and kind < 0.75:
        return "x" * rng.randint(limit - 2, limit + 2)
    return "".join(rng.choice(MESSY) for _ in range(rng.randint(0, 12)))


def corpus() -> list[dict[str, list[Any]]]:
    """The chunks as columns of plain values: rows clean but for one to three messy columns (or none),
    ``row`` 0 (which fails) now and then, some rows decided before."""
    rng = random.Random(SEED)
    chunks = []
    for size, columns in CHUNKS:
        chunk: dict[str, list[Any]] = {"row": [0 if rng.random() < 0.02 else i + 1 for i in range(size)]}
        chunk.update({column: [] for column in columns})
        for _ in range(size):
            messy = set(rng.sample(columns, rng.choice([0, 0, 1, 1, 2, 3])))
            for column in columns:
                chunk[column].append(value(rng, column, column in messy))
        chunk["outcome"] = [rng.choice([None, None, None, None, "duplicate", "invalid"]) for _ in range(size)]
        chunks.append(chunk)
    return chunks


def frame(chunk: dict[str, list[Any]]) -> pd.DataFrame:
    """A chunk as validation gets it: text columns as ``string``, a reason on every decided row."""
    df = pd.DataFrame({c: pd.array(v, dtype="int64" if c == "row" else "string") for c, v in chunk.items()})
    df["reason"] = pd.array([None if d is None else f"earlier: {d}" for d in chunk["outcome"]], dtype="string")
    return df


def plain(values: pd.Series) -> list[str | None]:
    """A column as JSON values."""
    return [None if pd.isna(v) else str(v) for v in values]


def field_rules(provider: str) -> Any:
    """The ``field_rules`` of a registered provider; a name not registered gets rules that check nothing."""
    from schemas.provider_rules import ProviderRules
    from tasks.providers.registry import providers

    known = providers()
    return known[provider].field_rules if provider in known else ProviderRules(provider)


def answers(chunk: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Per row: the text columns ``validate_leads`` changed, its outcome and reason, and each provider's
    outcome and reason where its rules decide otherwise."""
    from schemas.lead import validate_leads
    from schemas.provider_rules import validate_for_provider

    valid = validate_leads(frame(chunk))
    texts = [c for c in chunk if c not in ("row", "outcome")]
    outcome, reason = plain(valid["outcome"]), plain(valid["reason"])
    after = {c: plain(valid[c]) for c in texts}
    rows: list[dict[str, Any]] = [
        {"changed": {c: after[c][i] for c in texts if after[c][i] != chunk[c][i]}, "outcome": outcome[i],
         "reason": reason[i], "providers": {}} for i in range(len(valid))]
    for provider in PROVIDERS:
        checked = validate_for_provider(valid, field_rules(provider))
        for i, decided in enumerate(zip(plain(checked["outcome"]), plain(checked["reason"]), strict=True)):
            if list(decided) != [outcome[i], reason[i]]:
                rows[i]["providers"][provider] = list(decided)
    return rows


def recorded() -> list[dict[str, Any]]:
    """The committed chunks: input columns, and per row ``[input values, answers]``."""
    data: list[dict[str, Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def record() -> None:
    """Write each chunk and the current code's answers to ``lead_golden.json``, one row per line."""
    parts = []
    for chunk in corpus():
        columns = list(chunk)
        lines = [json.dumps([[chunk[c][i] for c in columns], got], ensure_ascii=False)
                 for i, got in enumerate(answers(chunk))]
        parts.append(f'{{"columns": {json.dumps(columns)},\n"rows": [\n' + ",\n".join(lines) + "\n]}")
    GOLDEN.write_text("[\n" + ",\n".join(parts) + "\n]\n", encoding="utf-8")


def chunk_of(part: dict[str, Any]) -> dict[str, list[Any]]:
    """The input chunk of one recorded part, as columns."""
    columns = part["columns"]
    return {c: [row[0][i] for row in part["rows"]] for i, c in enumerate(columns)}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    record()
