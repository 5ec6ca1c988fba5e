"""Masking of phone numbers, e-mails and secrets before anything reaches a log or an artifact."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

_PHONE_RE = re.compile(r"\+?\d[\d\s().\-]{5,}\d")
_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")


def mask_phone(value: str | None) -> str:
    """Keep the last 2 digits of a phone number: ``+1415***0100`` -> ``+*********00``."""
    if not value:
        return ""
    digits = sum(ch.isdigit() for ch in value)
    keep = 2 if digits > 4 else 0
    out: list[str] = []
    seen = 0
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_email(value: str | None) -> str:
    """``ada.lovelace@example.com`` -> ``a***@example.com``."""
    if not value:
        return ""
    return _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", value)


#: An external id that is wholly a phone number: E.164 (+ and 8-15 digits) or a NANP number
#: (area code and exchange starting 2-9, optional leading 1), with phone punctuation.
_ID_PHONE_RE = re.compile(r"\+?[\d\s().\-]*")
_ID_NANP_RE = re.compile(r"1?[2-9]\d{2}[2-9]\d{6}")
_ID_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")


def _is_phone_id(value: str) -> bool:
    if not _ID_PHONE_RE.fullmatch(value):
        return False
    digits = "".join(ch for ch in value if ch.isdigit())
    return bool(_ID_NANP_RE.fullmatch(digits)) or (value.lstrip().startswith("+") and 8 <= len(digits) <= 15)


def mask_external_id(value: str, *, strict: bool = False) -> str:
    """A CRM id stays readable (``00Q5e000001abcD``, ``CRM-2024-000123``); an id that is itself a phone
    number or an e-mail address is masked. ``strict`` masks every phone- or e-mail-like part as well."""
    if strict:
        return mask_text(value)
    if _ID_EMAIL_RE.fullmatch(value.strip()):
        return mask_text(value) if _EMAIL_RE.search(value) else "***"
    if _is_phone_id(value):
        return mask_phone(value)
    return value


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every phone number, e-mail address and given secret value found in free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)


def mask_phone_series(s: pd.Series) -> pd.Series:
    """Vectorized ``mask_phone`` for E.164 or digit strings: all but the last 2 digits starred."""
    s = s.astype("string")
    return s.str.replace(r"\d(?=\d{2})", "*", regex=True)


def mask_frame(df: pd.DataFrame, phone_cols: Iterable[str], email_cols: Iterable[str]) -> pd.DataFrame:
    """A copy of ``df`` with the named phone and e-mail columns masked (for artifacts)."""
    out = df.copy()
    for col in phone_cols:
        if col in out:
            out[col] = mask_phone_series(out[col])
    for col in email_cols:
        if col in out:
            out[col] = out[col].astype("string").str.replace(
                r"^(.)[^@]*@", r"\1***@", regex=True
            )
    return out
