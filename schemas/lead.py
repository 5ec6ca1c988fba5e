"""The normalized lead as a pandera model, and lazy validation that turns failures into outcomes."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from pandera.typing import Series

from schemas import columns as C
from schemas import text
from schemas.failures import failure_reasons
from schemas.marks import choose_strings, mark, pending
from schemas.outcomes import Outcome

#: E.164: "+", a country code not starting with 0, 7 to 15 digits in all.
E164_PATTERN = r"\+[1-9][0-9]{6,14}"
#: A sane e-mail shape: no spaces, one "@", a dotted domain with a 2+ letter top level.
EMAIL_PATTERN = r"[^@ \t\r\n]+@[^@ \t\r\n.]+(?:\.[^@ \t\r\n.]+)*\.[A-Za-z]{2,}"
US_ZIP_PATTERN = r"[0-9]{5}(?:-[0-9]{4})?"
CA_POSTAL_PATTERN = r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"
#: Either shape, as one pattern (one pass over the values).
POSTAL_PATTERN = f"(?:{US_ZIP_PATTERN})|(?:{CA_POSTAL_PATTERN})"
STATE_PATTERN = "[A-Z]{2}"
CANADA = frozenset({"CA", "CAN", "CANADA"})

#: Longest external id, name or city.
TEXT_MAX = 100
EMAIL_MAX = 254
ADDRESS_MAX = 255
PRIORITY_RANGE = (1, 1000)

Text = Optional[Series[pd.StringDtype]]  # noqa: UP045 (pandera reads the annotation at runtime)


def longer_than(s: pd.Series, limit: int) -> pd.Series:
    """True where the value is present and has more than ``limit`` characters."""
    return pd.Series(text.longer_than(s, limit), index=s.index)


def _passes(s: pd.Series, ok: text.Bools) -> pd.Series:
    """A check's result as pandera wants it: a boolean Series on the checked values' index."""
    return pd.Series(ok, index=s.index)


#: Canadian province and territory codes.
CA_PROVINCES = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})
#: A ZIP whose leading zeros a spreadsheet dropped.
SHORT_ZIP_PATTERN = r"[0-9]{3,4}(?:-[0-9]{4})?"

# The fixed-shape patterns spelled out as byte layouts (same matches, without a regex pass).
_ZIP4 = text.Shape((10,), ((-5, "-"),))
_CA_POSTAL = (text.Shape((6,), ((0, "ABCEGHJKLMNPRSTVXY"), (2, "ABCEGHJKLMNPRSTVWXYZ"), (4, "ABCEGHJKLMNPRSTVWXYZ"))),
              text.Shape((7,), ((0, "ABCEGHJKLMNPRSTVXY"), (2, "ABCEGHJKLMNPRSTVWXYZ"), (3, " "),
                                (5, "ABCEGHJKLMNPRSTVWXYZ"))))
E164 = text.Layout(E164_PATTERN, "09", (text.Shape(tuple(range(8, 17)), ((0, "+"), (1, "123456789"))),))
STATE = text.Layout(STATE_PATTERN, "AZ", (text.Shape((2,)),))
US_ZIP = text.Layout(US_ZIP_PATTERN, "09", (text.Shape((5,)), _ZIP4))
CA_POSTAL = text.Layout(CA_POSTAL_PATTERN, "09", _CA_POSTAL)
POSTAL = text.Layout(POSTAL_PATTERN, "09", (text.Shape((5,)), _ZIP4, *_CA_POSTAL))
SHORT_ZIP = text.Layout(SHORT_ZIP_PATTERN, "09", (text.Shape((3, 4)), text.Shape((8, 9), ((-5, "-"),))))


def _in_canada(df: pd.DataFrame) -> text.Bools:
    """Canada by the country column; where it is missing, by a province in ``state``."""
    country = df[C.COUNTRY] if C.COUNTRY in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    state = df[C.STATE] if C.STATE in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    by_state = text.in_set(text.upper(text.strip(state)), CA_PROVINCES)
    by_country = text.in_set(text.upper(text.strip(country)), CANADA)
    return by_country | (country.isna().to_numpy(dtype=bool) & by_state)


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

    # The checks treat a missing value as passing themselves, so pandera need not drop them first
    # (``ignore_na=False``); only the priority check, all pandas, sees present values alone.

    @pa.parser(C.FIRST_NAME, C.LAST_NAME, C.EMAIL, C.CITY, C.EXTERNAL_ID)
    @classmethod
    def _trim(cls, s: pd.Series) -> pd.Series:
        return text.strip(s)

    @pa.parser(C.STATE)
    @classmethod
    def _upper(cls, s: pd.Series) -> pd.Series:
        return text.upper(text.strip(s))

    @pa.parser(C.ZIP)
    @classmethod
    def _zip(cls, s: pd.Series) -> pd.Series:
        """Trim, upper-case, and restore leading zeros a spreadsheet dropped ("660" -> "00660")."""
        s = text.upper(text.strip(s))
        short = text.fullmatch(s, SHORT_ZIP, missing=False)
        if not short.any():
            return s
        if text.is_arrow_text(s):  # a short ZIP is ASCII: count bytes
            values = text.arrow(s)
            size = np.diff(text.byte_view(values)[1])
            zeros = np.where(short, 5 - np.where(size > 4, size - 5, size), 0)  # digits before "-" up to 5
            return text.text_series(text.prepend(values, zeros, "0"), s.index)
        parts = s[short].str.partition("-")
        return s.mask(short, parts[0].str.zfill(5) + parts[1] + parts[2])

    @pa.check(C.PHONE_E164, error="not an E.164 number", ignore_na=False)
    @classmethod
    def _e164(cls, s: pd.Series) -> pd.Series:
        return _passes(s, text.fullmatch(s, E164, missing=True))

    @pa.check(C.EXTERNAL_ID, C.FIRST_NAME, C.LAST_NAME, C.CITY, error=f"longer than {TEXT_MAX} characters",
              ignore_na=False)
    @classmethod
    def _short_text(cls, s: pd.Series) -> pd.Series:
        return _passes(s, ~text.longer_than(s, TEXT_MAX))

    @pa.check(C.ADDRESS1, C.ADDRESS2, error=f"longer than {ADDRESS_MAX} characters", ignore_na=False)
    @classmethod
    def _address(cls, s: pd.Series) -> pd.Series:
        return _passes(s, ~text.longer_than(s, ADDRESS_MAX))

    @pa.check(C.EMAIL, error="not a valid e-mail address", ignore_na=False)
    @classmethod
    def _email(cls, s: pd.Series) -> pd.Series:
        return _passes(s, text.fullmatch(s, EMAIL_PATTERN, missing=True) & ~text.longer_than(s, EMAIL_MAX))

    @pa.check(C.STATE, error="not a 2-letter code", ignore_na=False)
    @classmethod
    def _state(cls, s: pd.Series) -> pd.Series:
        return _passes(s, text.fullmatch(s, STATE, missing=True))

    @pa.check(C.ZIP, error="not a 5-digit ZIP", ignore_na=False)
    @classmethod
    def _zip_shape(cls, s: pd.Series) -> pd.Series:
        return _passes(s, text.fullmatch(s, POSTAL, missing=True))

    @pa.check(C.PRIORITY, error="not a whole number from 1 to 1000")
    @classmethod
    def _priority(cls, s: pd.Series) -> pd.Series:
        if s.empty:  # pandera passes present values only: the column is all missing
            return pd.Series(True, index=s.index, dtype=bool)
        whole = s.str.replace(r"\.0*$", "", regex=True)
        value = whole.where(whole.str.fullmatch("[0-9]{1,4}").fillna(False)).astype("Int64")
        return value.between(*PRIORITY_RANGE).fillna(False) | s.isna()

    @pa.dataframe_check(error="zip: postal code does not match the country")
    @classmethod
    def _zip_country(cls, df: pd.DataFrame) -> pd.Series:
        """A US ZIP outside Canada or a Canadian postal code in Canada (other shapes: see _zip_shape)."""
        if C.ZIP not in df.columns:
            return pd.Series(True, index=df.index)
        zip_code = df[C.ZIP]
        canada = _in_canada(df)
        # The two shapes exclude each other (a ZIP starts with a digit, a postal code with a letter).
        mismatch = text.fullmatch(zip_code, CA_POSTAL, missing=False) & ~canada
        home = np.flatnonzero(canada)
        mismatch[home] = text.fullmatch(zip_code.iloc[home], US_ZIP, missing=False)
        return pd.Series(~mismatch, index=df.index)


#: The Lead model as a schema, built once.
LEAD_SCHEMA = Lead.to_schema()
#: What :func:`validate_leads` runs: LEAD_SCHEMA without the dtype checks of the text columns,
#: which it casts to ``string`` itself (so those checks cannot fail); every other check,
#: parser and the ``row`` dtype check run through pandera as in LEAD_SCHEMA.
_RUN_SCHEMA = LEAD_SCHEMA.update_columns({c: {"dtype": None} for c in LEAD_SCHEMA.columns if c != C.ROW})
_PARSED = (C.EXTERNAL_ID, C.FIRST_NAME, C.LAST_NAME, C.EMAIL, C.CITY, C.STATE, C.ZIP)


def _as_text(s: pd.Series) -> pd.Series:
    """The values of ``s`` as ``string`` on a fresh ``RangeIndex`` (Arrow-backed text is not copied)."""
    if text.is_arrow_text(s):
        return text.text_series(text.arrow(s), pd.RangeIndex(len(s)))
    return s.reset_index(drop=True).astype("string")


#: The number pandera sees for a decided lead without one (a valid E.164 number).
_PLACEHOLDER_E164 = "+10000000000"


def _phone_placeholders(phone: pd.Series, decided: text.Bools) -> pd.Series:
    """``phone`` with :data:`_PLACEHOLDER_E164` where it is missing on a decided row.

    What pandera finds on a decided row is dropped, and a failing check is what costs pandera most
    (its failure cases are gathered three times over: about 5 ms a chunk for the decided leads
    without a phone), so a missing number there is not shown to it.
    """
    fill = decided & phone.isna().to_numpy(dtype=bool)
    return choose_strings(fill, _PLACEHOLDER_E164, phone) if fill.any() else phone


def validate_leads(df: pd.DataFrame) -> pd.DataFrame:
    """Validate the pending leads lazily; mark each failing lead ``invalid`` with every reason.

    Only rows whose outcome is still missing are marked or changed: their trimmed and upper-cased
    values (state, ZIP, names, e-mail) replace the originals; other rows are left untouched.
    pandera sees the whole chunk (copying out the pending rows would cost more than checking the
    few already decided ones too), and what it finds on decided rows is dropped. A decided lead
    is mostly one without a phone: pandera sees a placeholder number there instead (see
    :func:`_phone_placeholders`), or it would collect a failure for each of them, to be dropped.

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
    sub = pd.DataFrame({c: _as_text(df[c]) if c != C.ROW else df[c].reset_index(drop=True) for c in columns},
                       copy=False)
    if C.PHONE_E164 in sub.columns:
        sub[C.PHONE_E164] = _phone_placeholders(sub[C.PHONE_E164], ~todo)
    try:
        parsed, failures = _RUN_SCHEMA.validate(sub, lazy=True), None
    except SchemaErrors as exc:
        parsed, failures = exc.data, exc.failure_cases
    out = df.copy(deep=False)
    for col in (c for c in _PARSED if c in columns):
        if not (text.is_arrow_text(out[col]) and text.same(sub[col], parsed[col])):  # most parse to themselves
            out[col] = choose_strings(todo, parsed[col], out[col])
    if failures is None:
        return mark(out, np.zeros(len(df), dtype=bool), Outcome.INVALID, "")
    reason = failure_reasons(failures, len(sub), list(LEAD_SCHEMA.columns))
    reason = pd.Series(reason.array, index=df.index, copy=False)
    return mark(out, reason.notna().to_numpy() & todo, Outcome.INVALID, reason)
