"""Vectorized NANP numbers: digits straight from Arrow buffers, area-code allow-list, NPA/NXX rules."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers as pn
import pyarrow as pa
import regex  # type: ignore[import-untyped]

from schemas.text import byte_view
from tasks.rules.phone_text import large_strings

#: phonenumbers number types whose area codes count as assigned (premium 900 is left out).
NANP_TYPES = ("fixed_line", "mobile", "toll_free", "personal_number", "voip")
#: Regions of country calling code 1 (US first, so shared toll-free codes map to US).
NANP_REGION_NAMES: tuple[str, ...] = tuple(pn.COUNTRY_CODE_TO_REGION_CODE[1])
NANP_REGIONS: frozenset[str] = frozenset(NANP_REGION_NAMES)
#: NANP rules in the order they are checked; the first failing one is reported.
NANP_PROBLEMS = (
    "invalid area code",
    "N11 area code",
    "unassigned area code",
    "invalid exchange",
    "N11 exchange",
    "fictional 555-01xx",
)

_ZERO = ord("0")
_E164_PREFIX = np.frombuffer(b"+1", dtype=np.uint8)

IntArray = npt.NDArray[np.int64]
DigitMatrix = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]


def _area_code_regions() -> npt.NDArray[np.int8]:
    """Index into ``NANP_REGION_NAMES`` of every NPA (array index = NPA), -1 if unassigned."""
    codes = np.full(1000, -1, dtype=np.int8)
    for code, region in enumerate(NANP_REGION_NAMES):
        meta = pn.PhoneMetadata.metadata_for_region(region)
        for kind in NANP_TYPES:
            desc = getattr(meta, kind, None)
            if desc is None or not desc.national_number_pattern:
                continue
            pattern = regex.compile(desc.national_number_pattern)
            for npa in range(200, 1000):
                if codes[npa] < 0 and pattern.fullmatch(str(npa), partial=True):
                    codes[npa] = code
    return codes


#: Region (index into ``NANP_REGION_NAMES``) of each assigned area code, -1 if unassigned.
NPA_REGION_CODE = _area_code_regions()


class Digits(NamedTuple):
    """The digits of each string, packed: string ``i`` is ``data[offsets[i]:offsets[i + 1]]``."""

    data: npt.NDArray[np.uint8]
    offsets: IntArray

    @property
    def size(self) -> IntArray:
        """Number of digits of each string."""
        return np.diff(self.offsets)

    def starts_with(self, prefix: str) -> BoolArray:
        """True where the digits start with ``prefix`` (itself digits)."""
        hit = self.size >= len(prefix)
        for i, char in enumerate(prefix.encode()):
            at = np.minimum(self.offsets[:-1] + i, max(len(self.data) - 1, 0))
            hit &= (self.data[at] == char) if len(self.data) else False
        return hit

    def last_ten(self, rows: IntArray) -> DigitMatrix:
        """The last ten digits of the strings at ``rows`` (each has ten or more): row ``k`` holds digit ``k``."""
        positions = self.offsets[1:][rows][None, :] - 10 + np.arange(10)[:, None]
        matrix: DigitMatrix = self.data[positions] - np.uint8(_ZERO)
        return matrix


def digits_of(text: pd.Series | pa.Array) -> Digits:
    """Strip every non-digit from each string of ``text`` (NA counts as empty).

    Works on the Arrow buffers with numpy, much faster than a regex replace.
    """
    arr = large_strings(text.astype("string") if isinstance(text, pd.Series) else text)
    data, offsets = byte_view(arr)
    at = np.flatnonzero((data - _ZERO) < 10)
    return Digits(data[at], np.searchsorted(at, offsets).astype(np.int64, copy=False))


def ten_digits(ten: IntArray) -> DigitMatrix:
    """10-digit numbers as a digit matrix (row ``k`` holds digit ``k`` of each number)."""
    matrix = np.empty((10, len(ten)), dtype=np.uint8)
    rest = ten.copy()
    for k in range(9, -1, -1):
        rest, digit = np.divmod(rest, 10)
        matrix[k] = digit
    return matrix


def ten_value(matrix: DigitMatrix) -> IntArray:
    """The numbers of a digit matrix as ints."""
    value = np.zeros(matrix.shape[1], dtype=np.int64)
    for row in matrix:
        value *= 10
        value += row
    return value


def check_nanp(digits: DigitMatrix, *, allow_fictional: bool) -> tuple[IntArray, IntArray]:
    """Apply the NPA/NXX rules to 10-digit NANP numbers.

    Args:
        digits: The numbers (area code, exchange, line) as a digit matrix (see :func:`ten_digits`).
        allow_fictional: Accept 555-0100 to 555-0199.

    Returns:
        ``region`` (index into ``NANP_REGION_NAMES``, -1 when invalid) and ``problem``
        (index into ``NANP_PROBLEMS``, -1 when valid).
    """
    d = digits
    npa = d[0].astype(np.int16) * 100 + d[1] * 10 + d[2]
    code = NPA_REGION_CODE[npa]
    checks = [d[0] < 2, (d[1] == 1) & (d[2] == 1), code < 0, d[3] < 2, (d[4] == 1) & (d[5] == 1)]
    if not allow_fictional:
        checks.append((d[3] == 5) & (d[4] == 5) & (d[5] == 5) & (d[6] == 0) & (d[7] == 1))
    problem = np.full(len(npa), -1, dtype=np.int64)
    for i in range(len(checks) - 1, -1, -1):
        problem[checks[i]] = i
    return np.where(problem < 0, code, -1).astype(np.int64), problem


def e164_strings(digits: DigitMatrix) -> pa.Array:
    """``"+1"`` followed by the ten digits of each number of a digit matrix, as Arrow strings."""
    count = digits.shape[1]
    chars = np.empty((count, 12), dtype=np.uint8)
    chars[:, :2] = _E164_PREFIX
    chars[:, 2:] = digits.T + np.uint8(_ZERO)
    offsets = np.arange(0, 12 * count + 1, 12, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(chars.ravel()))
