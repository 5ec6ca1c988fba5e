"""The numbers of multi-phone fields: splitting them, picking primary and alternates, and the reasons."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import PHONE, PHONES
from schemas.text import byte_view, nonnull
from tasks.rules.phone_parse import Parsed
from tasks.rules.phone_text import BoolArray, IntArray, any_of, concat, group_join

#: Characters that separate several numbers in one field.
SEPARATORS = r"[|;,/]"
is_separator = any_of(b"|;,/")
#: Leads with up to this many valid numbers plus one are checked for repeats by comparing neighbours, others by sorting.
MAX_LAG = 8


class Items(NamedTuple):
    """One row per non-blank number of the given leads, sorted by ``pos`` then ``rank``."""

    pos: IntArray  #: position of the lead
    rank: IntArray  #: 0 from ``phone``, 1 from ``phones``
    text: pa.Array  #: the number as written, stripped


def split_items(rows: IntArray, columns: tuple[pa.Array, ...]) -> Items:
    """Split the (stripped) fields of the leads at ``rows`` into their numbers, blanks dropped."""
    pos, rank, texts = [], [], []
    for n, column in enumerate(columns):
        present = rows[nonnull(column)[rows]]
        parents, pieces = split_at_separators(column.take(pa.array(present)))
        pos.append(present[parents])
        rank.append(np.full(len(parents), n, dtype=np.int64))
        texts.append(pc.utf8_trim_whitespace(pieces))
    text = pa.concat_arrays(texts)
    keep = pc.binary_length(text).to_numpy(zero_copy_only=False) > 0
    group = np.concatenate(pos) * 2 + np.concatenate(rank)
    order = np.flatnonzero(keep)[np.argsort(group[keep], kind="stable")]
    return Items(group[order] // 2, group[order] % 2, text.take(pa.array(order)))


def split_at_separators(arr: pa.LargeStringArray) -> tuple[IntArray, pa.LargeStringArray]:
    """Cut each value at every separator byte (as ``split_pattern_regex`` with :data:`SEPARATORS`).

    Returns:
        For each piece, the value it came from, and the pieces in order (separators dropped).
    """
    data, offsets = byte_view(arr)
    count = len(arr)
    sep = np.flatnonzero(is_separator(data))
    pieces_per_row = np.bincount(np.searchsorted(offsets, sep, side="right") - 1, minlength=count) + 1
    first = np.cumsum(pieces_per_row) - pieces_per_row
    last = first + pieces_per_row - 1
    total = count + len(sep)
    starts, ends = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
    inner = np.ones(total, dtype=bool)
    inner[first] = False
    starts[first], starts[inner] = offsets[:-1], sep + 1
    inner[:] = True
    inner[last] = False
    ends[last], ends[inner] = offsets[1:], sep
    kept = np.ones(len(data), dtype=bool)
    kept[sep] = False
    lengths = np.r_[0, np.cumsum(ends - starts)].astype(np.int64)
    pieces = pa.LargeStringArray.from_buffers(total, pa.py_buffer(lengths), pa.py_buffer(data[kept].tobytes()))
    return np.repeat(np.arange(count), pieces_per_row), pieces


class Chosen(NamedTuple):
    """The primary number of each lead that has a valid one, and its other valid numbers."""

    primary_pos: IntArray  #: leads with a valid number
    primary_at: IntArray  #: index (into the parsed values) of their first valid item
    alt_pos: IntArray  #: leads with alternates
    alts: pa.Array  #: their other distinct valid numbers, "|"-joined in order


def choose(items: Items, parsed: Parsed, start: int) -> Chosen:
    """First valid item of each lead, then its other valid ones without repeats (by phone key).

    The items were parsed as the values from ``start`` on.
    """
    valid = np.flatnonzero(parsed.key[start:] > 0)
    kept = valid[~_repeats(items.pos[valid], parsed.key[start + valid])]
    kept_pos = items.pos[kept]
    first = np.r_[True, kept_pos[1:] != kept_pos[:-1]] if len(kept) else np.zeros(0, dtype=bool)
    others = kept[~first]
    alt_pos, alts = group_join(parsed.e164_of(start + others), items.pos[others], "|")
    return Chosen(kept_pos[first], start + kept[first], alt_pos, alts)


def _repeats(pos: IntArray, number: IntArray) -> BoolArray:
    """True where an earlier item of the same lead (``pos`` sorted) has the same number."""
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]]) if len(pos) else pos
    longest = int(np.diff(np.r_[starts, len(pos)]).max(initial=0))
    repeat = np.zeros(len(pos), dtype=bool)
    if longest - 1 <= MAX_LAG:
        for lag in range(1, longest):
            repeat[lag:] |= (pos[lag:] == pos[:-lag]) & (number[lag:] == number[:-lag])
        return repeat
    order = np.lexsort((number, pos))
    repeat[order[1:]] = (pos[order[1:]] == pos[order[:-1]]) & (number[order[1:]] == number[order[:-1]])
    return repeat


def item_reasons(items: Items, parsed: Parsed, start: int, failed: BoolArray) -> tuple[IntArray, pa.Array]:
    """For the leads of ``failed`` (by position): every number and its problem, grouped by field.

    Returns:
        The leads that have items and, for each, e.g.
        ``"phone: no valid number ('1': too short); phones: no valid number ('99': too short)"``.
    """
    at = np.flatnonzero(failed[items.pos])
    listed = concat("'", items.text.take(pa.array(at)), "': ", parsed.problem_of(start + at))
    field = items.pos[at] * 2 + items.rank[at]
    fields, joined = group_join(listed, field, "; ")
    label = pa.array(np.array((PHONE, PHONES), dtype=object)[fields % 2], pa.large_string())
    per_field = concat(label, ": no valid number (", joined, ")")
    return group_join(per_field, fields // 2, "; ")
