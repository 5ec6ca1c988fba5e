"""Per-provider rules checked before sending: required fields, limits, custom-field keys.

The rules are data (:class:`ProviderRules`), declared by each provider class as its
``field_rules``; limits marked [I] there are inferred, not documented (see docs/providers.md):
the vendors publish none, so they are kept generous.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas import columns as C
from schemas import text
from schemas.lead import longer_than
from schemas.marks import Mask, combine_reasons, mark, pending
from schemas.outcomes import Outcome

#: How a column says yes or no (any case): ``true``/``false``, ``yes``/``no``, ``1``/``0`` ...
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})


@dataclass(frozen=True)
class ProviderRules:
    """What one provider needs of a lead beyond the :class:`schemas.lead.Lead` schema."""

    name: str
    required: tuple[str, ...] = ()  #: columns that must hold a non-blank value
    max_lengths: Mapping[str, int] = field(default_factory=dict)  #: column -> most characters
    priority_range: tuple[int, int] | None = None  #: allowed ``priority`` values
    extra_max: int | None = None  #: most characters of a custom-field value
    header_prefix: str | None = None  #: custom fields named so become SIP headers
    header_key: str | None = None  #: regex every header name must fully match
    data_key: str | None = None  #: regex every custom-field key must fully match
    stringify_extras: bool = False  #: custom-field values are sent as strings
    booleans: tuple[str, ...] = ()  #: columns that must read as true or false where set


def validate_for_provider(df: pd.DataFrame, rules: ProviderRules) -> pd.DataFrame:
    """Apply a provider's rules to the pending leads; mark failing ones ``invalid``.

    Args:
        df: A validated chunk (custom fields as ``extra.<name>`` columns).
        rules: The provider's ``field_rules``; ``ProviderRules(name)`` checks nothing.

    Returns:
        The chunk with failing pending leads marked (every failed rule in the reason, e.g.
        ``"external_id: required by engage-voice"``) and, where the provider wants strings,
        custom-field values as strings.
    """
    out = df.copy(deep=False)
    extras = C.extra_columns(out.columns)
    if rules.stringify_extras:
        for col in extras:
            out[col] = _stringify(out[col])
    todo = pending(out).to_numpy(dtype=bool)
    reason = combine_reasons(_failures(out, rules, extras), out.index)
    return mark(out, todo & reason.notna().to_numpy(), Outcome.INVALID, reason)


def _failures(df: pd.DataFrame, rules: ProviderRules, extras: list[str]) -> list[tuple[Mask, str]]:
    """Each failed rule: the rows failing it and their message."""
    checks: list[tuple[Mask, str]] = []
    for col in rules.required:
        checks.append((text.blank(_text(df, col)), f"{col}: required by {rules.name}"))
    for col, limit in rules.max_lengths.items():
        checks.append((_too_long(_text(df, col), limit), f"{col}: longer than {limit} characters for {rules.name}"))
    if rules.priority_range is not None and C.PRIORITY in df.columns:
        low, high = rules.priority_range
        whole = _text(df, C.PRIORITY).str.replace(r"\.0*$", "", regex=True)
        number = whole.where(whole.str.fullmatch("[0-9]{1,9}").fillna(False)).astype("Int64")
        outside = whole.notna() & ~number.between(low, high).fillna(False)
        checks.append((outside, f"priority: not a whole number from {low} to {high} for {rules.name}"))
    for col in rules.booleans:
        flag = _text(df, col).str.strip().str.lower()
        checks.append((flag.notna() & ~flag.isin(TRUE_WORDS | FALSE_WORDS), f"{col}: not true or false"))
    for col in extras:
        key, values = col[len(C.EXTRA_PREFIX) :], _text(df, col)
        has_value = values.notna().to_numpy(dtype=bool)
        header = rules.header_prefix is not None and key.startswith(rules.header_prefix)
        if header and rules.header_key and not re.fullmatch(rules.header_key, key):
            checks.append((has_value, f"context_headers: {key!r} is not a valid SIP header name"))
        if rules.data_key and not re.fullmatch(rules.data_key, key):
            checks.append((has_value, f"{col}: key {key!r} is not allowed by {rules.name}"))
        if rules.extra_max is not None:
            message = f"{col}: longer than {rules.extra_max} characters for {rules.name}"
            checks.append((_too_long(values, rules.extra_max), message))
    return checks


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as ``string`` (all NA if absent)."""
    if col not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    return df[col].astype("string")


def _too_long(s: pd.Series, limit: int) -> np.ndarray:
    """True where the value has more than ``limit`` characters, as a numpy array."""
    return longer_than(s, limit).to_numpy(dtype=bool)


def _stringify(s: pd.Series) -> pd.Series:
    """Custom-field values as the strings a provider receives (whole floats without ".0")."""
    if pd.api.types.is_float_dtype(s.dtype):
        whole = (s % 1 == 0).fillna(False)
        return s.astype("string").mask(whole, s.where(whole).astype("Int64").astype("string"))
    return s.astype("string")
