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
