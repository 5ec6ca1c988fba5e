"""Reference copy of schemas/lead.py before the fast path (plain pandas checks, the full LEAD_SCHEMA run)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from pandera.typing import Series
from ref_outcomes import choose_strings, combine_reasons, mark, pending

from schemas import columns as C
from schemas.outcomes import Outcome

#: E.164: "+", a country code not starting with 0, 7 to 15 digits in all.
E164_PATTERN = r"\+[1-9][0-9]{6,14}"
#: A sane e-mail shape: no spaces, one "@", a dotted domain with a 2+ letter top level.
EMAIL_PATTERN = r"[^@ \t\r\n]+@[^@ \t\r\n.]+(?:\.[^@ \t\r\n.]+)*\.[A-Za-z]{2,}"
US_ZIP_PATTERN = r"[0-9]{5}(?:-[0-9]{4})?"
CA_POSTAL_PATTERN = r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"
CANADA = frozenset({"CA", "CAN", "CANADA"})
#: Longest external id, name or city.
TEXT_MAX = 100
EMAIL_MAX = 254
ADDRESS_MAX = 255
PRIORITY_RANGE = (1, 1000)

Text = Optional[Series[pd.StringDtype]]  # noqa: UP045 (pandera reads the annotation at runtime)


def longer_than(s: pd.Series, limit: int) -> pd.Series:
    """True where the value is present and has more than ``limit`` characters."""
    return (s.str.len() > limit).fillna(False)


def _matches(s: pd.Series, pattern: str) -> pd.Series:
    """True where the value is missing or fully matches ``pattern``."""
    return s.str.fullmatch(pattern).fillna(True)


#: Canadian province and territory codes.
CA_PROVINCES = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})


def _is_canada(country: pd.Series) -> pd.Series:
    """True where the country names Canada."""
    return country.str.strip().str.upper().isin(CANADA).fillna(False)


def _in_canada(df: pd.DataFrame) -> pd.Series:
    """Canada by the country column; where it is missing, by a province in ``state``."""
    country = df[C.COUNTRY] if C.COUNTRY in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    state = df[C.STATE] if C.STATE in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    by_state = state.str.strip().str.upper().isin(CA_PROVINCES).fillna(False)
    return _is_canada(country) | (country.isna() & by_state)


class Lead(pa.DataFrameModel):
    """A lead after phone normalization: what every provider may rely on."""

    row: Series[np.int64] = pa.Field(ge=1)
    phone_e164: Series[pd.StringDtype] = pa.Field(nullable=False)
    external_id: Text = pa.Field(nullable=True)
    first_name: Text = pa.Field(nullable=True)
    last_name: Text = pa.Field(nullable=True)
    email: Text = pa.Field(nullable=True)
    address1: Text = pa.Field(nullable=True)
    address2: Text = pa.Field(nullable=True)
    city: Text = pa.Field(nullable=True)
    state: Text = pa.Field(nullable=True)
    zip: Text = pa.Field(nullable=True)
    country: Text = pa.Field(nullable=True)
    priority: Text = pa.Field(nullable=True)

    class Config:
        """Other columns (extra fields, derived columns) pass through."""

        name = "Lead"
        strict = False

    @pa.parser(C.FIRST_NAME, C.LAST_NAME, C.EMAIL, C.CITY, C.EXTERNAL_ID)
    @classmethod
    def _trim(cls, s: pd.Series) -> pd.Series:
        return s.str.strip()

    @pa.parser(C.STATE)
    @classmethod
    def _upper(cls, s: pd.Series) -> pd.Series:
        return s.str.strip().str.upper()

    @pa.parser(C.ZIP)
    @classmethod
    def _zip(cls, s: pd.Series) -> pd.Series:
        """Trim, upper-case, and restore leading zeros a spreadsheet dropped ("660" -> "00660")."""
        s = s.str.strip().str.upper()
        short = s.str.fullmatch(r"[0-9]{3,4}(?:-[0-9]{4})?").fillna(False)
        if not short.any():
            return s
        parts = s[short].str.partition("-")
        return s.mask(short, parts[0].str.zfill(5) + parts[1] + parts[2])

    @pa.check(C.PHONE_E164, error="not an E.164 number")
    @classmethod
    def _e164(cls, s: pd.Series) -> pd.Series:
        return _matches(s, E164_PATTERN)

    @pa.check(C.EXTERNAL_ID, C.FIRST_NAME, C.LAST_NAME, C.CITY, error=f"longer than {TEXT_MAX} characters")
    @classmethod
    def _short_text(cls, s: pd.Series) -> pd.Series:
        return ~longer_than(s, TEXT_MAX)

    @pa.check(C.ADDRESS1, C.ADDRESS2, error=f"longer than {ADDRESS_MAX} characters")
    @classmethod
    def _address(cls, s: pd.Series) -> pd.Series:
        return ~longer_than(s, ADDRESS_MAX)

    @pa.check(C.EMAIL, error="not a valid e-mail address")
    @classmethod
    def _email(cls, s: pd.Series) -> pd.Series:
        return _matches(s, EMAIL_PATTERN) & ~longer_than(s, EMAIL_MAX)

    @pa.check(C.STATE, error="not a 2-letter code")
    @classmethod
    def _state(cls, s: pd.Series) -> pd.Series:
        return _matches(s, "[A-Z]{2}")

    @pa.check(C.ZIP, error="not a 5-digit ZIP")
    @classmethod
    def _zip_shape(cls, s: pd.Series) -> pd.Series:
        return _matches(s, US_ZIP_PATTERN) | _matches(s, CA_POSTAL_PATTERN)

    @pa.check(C.PRIORITY, error="not a whole number from 1 to 1000")
    @classmethod
    def _priority(cls, s: pd.Series) -> pd.Series:
        whole = s.str.replace(r"\.0*$", "", regex=True)
        value = whole.where(whole.str.fullmatch("[0-9]{1,4}").fillna(False)).astype("Int64")
        return value.between(*PRIORITY_RANGE).fillna(False) | s.isna()

    @pa.dataframe_check(error="zip: postal code does not match the country")
    @classmethod
    def _zip_country(cls, df: pd.DataFrame) -> pd.Series:
        if C.ZIP not in df.columns:
            return pd.Series(True, index=df.index)
        zip_code = df[C.ZIP]
        canada = _in_canada(df)
        us_shape = zip_code.str.fullmatch(US_ZIP_PATTERN).fillna(False)
        ca_shape = zip_code.str.fullmatch(CA_POSTAL_PATTERN).fillna(False)
        return zip_code.isna() | ~(us_shape | ca_shape) | (us_shape & ~canada) | (ca_shape & canada)


#: The Lead model as a schema, built once.
LEAD_SCHEMA = Lead.to_schema()
_PARSED = (C.EXTERNAL_ID, C.FIRST_NAME, C.LAST_NAME, C.EMAIL, C.CITY, C.STATE, C.ZIP)
_BUILTIN_MESSAGES = {"not_nullable": "missing", "column_in_dataframe": "column missing"}


def validate_leads(df: pd.DataFrame) -> pd.DataFrame:
    """Validate the pending leads lazily; mark each failing lead ``invalid`` with every reason.

    Only rows whose outcome is still missing are validated. Their trimmed and upper-cased
    values (state, ZIP, names, e-mail) replace the originals; other rows are left untouched.

    Args:
        df: A chunk after :func:`tasks.rules.phones.normalize_phones`.

    Returns:
        The chunk, with failing pending rows marked, e.g. reason
        ``"email: not a valid e-mail address; zip: not a 5-digit ZIP"``.

    Raises:
        ValueError: If the frame itself is wrong (a required column missing, ``row`` not int).
    """
    todo = pending(df).to_numpy(dtype=bool)
    columns = [c for c in LEAD_SCHEMA.columns if c in df.columns]
    at = np.flatnonzero(todo)
    sub = df.iloc[at][columns].reset_index(drop=True)
    sub = sub.astype({c: "string" for c in columns if c != C.ROW})
    try:
        parsed, failures = LEAD_SCHEMA.validate(sub, lazy=True), None
    except SchemaErrors as exc:
        parsed, failures = exc.data, exc.failure_cases
    out = df.copy(deep=False)
    positions = np.full(len(df), -1, dtype=np.int64)
    positions[at] = np.arange(len(at))
    for col in (c for c in _PARSED if c in columns):
        values = pd.Series(parsed[col].array.take(positions, allow_fill=True), index=df.index)
        out[col] = choose_strings(todo, values, out[col])
    if failures is None:
        return mark(out, np.zeros(len(df), dtype=bool), Outcome.INVALID, "")
    reason = _reasons(failures, len(sub))
    full = pd.Series(reason.array.take(positions, allow_fill=True), index=df.index)
    return mark(out, full.notna().to_numpy(), Outcome.INVALID, full)


def _reasons(failures: pd.DataFrame, count: int) -> pd.Series:
    """One reason per validated row (NA if it passed), from pandera's failure cases."""
    frame_level = failures[failures["index"].isna()]
    if len(frame_level):
        problems = (
            frame_level["column"].astype(str) + ": " + frame_level["check"].astype(str)
            + " (" + frame_level["failure_case"].astype(str) + ")"
        )
        raise ValueError(f"the leads frame does not fit the Lead schema: {'; '.join(problems)}")
    check = failures["check"].astype(str).replace(_BUILTIN_MESSAGES)
    per_column = failures["schema_context"] == "Column"
    message = (failures["column"].astype(str) + ": " + check).where(per_column, check)
    order = {c: i for i, c in enumerate(LEAD_SCHEMA.columns)}
    rank = message.str.split(":").str[0].map(order).fillna(len(order))
    rows = failures.assign(message=message, rank=rank).drop_duplicates(["index", "message"])
    checks = []
    for text, group in rows.sort_values(["rank", "message"]).groupby("message", sort=False):
        mask = np.zeros(count, dtype=bool)
        mask[group["index"].to_numpy(dtype=np.int64)] = True
        checks.append((mask, str(text)))
    return combine_reasons(checks, pd.RangeIndex(count))
