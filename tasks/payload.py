"""Request bodies built column-wise with Arrow and numpy: no Python dict (or string) per lead.

Each column becomes one Arrow array of JSON values, computed once for all rows. The body is then
assembled in one pass: every record is a run of pieces (the constant text between values, such as
``,"email":"``, and the values themselves), all pieces live in one Arrow ``string_view`` pool, numpy
lays out the pool index of every piece of every record (leaving out null members), gathers their
16-byte views, and a single Arrow cast copies the bytes behind them into the body. The cost is one
view per piece plus one copy of the output, instead of one Arrow join (and one new string array)
per column and per nested object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Control characters JSON requires escaped (rare in lead data: such columns take the slow path).
_CONTROL = r"[\x00-\x1f]"


@dataclass(frozen=True)
class _Member:
    """One ``"key":value`` member of a record, for all rows.

    Attributes:
        key: the key, already as JSON text.
        values: each row's value as JSON text, null where the member is left out; when ``quoted``,
            text that needs no escaping, written without its quotes (the constants around it carry them).
        quoted: whether ``values`` go between quotes.
    """

    key: str
    values: pa.Array
    quoted: bool


def json_records(frame: pd.DataFrame, *, nested: dict[str, list[str]] | None = None,
                 drop_null: bool = True) -> bytes:
    """A JSON array with one object per row of ``frame``.

    Args:
        frame: columns named as the API fields, values already in the API's types (use
            nullable ``Int64`` for integers).
        nested: object fields made of several columns, e.g. ``{"callData": ["plan", "email"]}``;
            they come after the other fields, and are written (possibly as ``{}``) on every row.
        drop_null: omit keys whose value is null (also inside nested objects).
    """
    if len(frame) == 0:
        return b"[]"
    nested = {k: v for k, v in (nested or {}).items() if v}
    inner = {c for cols in nested.values() for c in cols}
    top = [_member(frame[c], c, drop_null) for c in frame.columns if c not in inner]
    groups = {name: [_member(frame[c], c, drop_null) for c in cols] for name, cols in nested.items()}
    return _Records(len(frame), top, groups).body()


def _member(series: pd.Series, col: str, drop_null: bool) -> _Member:
    """The member of one column: text that needs no escaping goes as it is, without its quotes.

    Where nulls are written (``drop_null`` off), only a column without nulls goes that way (a null
    is the unquoted ``null``).
    """
    plain = _plain_text(series)
    if plain is not None and (drop_null or not plain.null_count):
        return _Member(_key(col), plain, quoted=True)
    value = _json_values(series)
    if not drop_null:
        value = value.fill_null("null")
    return _Member(_key(col), value, quoted=False)


class _Records:
    """The pieces of every record, laid out row by row, and the body they make.

    The pool holds every member's values (``rows`` entries each, in member order) followed by the
    constant pieces. Between two values of an object comes one constant: what closes the previous
    present member (a quote or nothing), a comma, and the next key. Which one it is depends on the
    row (which members before it are present), so each object keeps, per row, its state after the
    last present member: 0 none yet, 1 a quoted value, 2 another value (or a nested object).
    """

    def __init__(self, rows: int, top: list[_Member], groups: dict[str, list[_Member]]) -> None:
        self.rows = rows
        self.values = [m.values for m in top] + [m.values for members in groups.values() for m in members]
        self.first_constant = rows * len(self.values)
        # 3 constants per member, 6 per nested object (before it and closing it), 6 row ends, 2 brackets
        largest = self.first_constant + 3 * (len(self.values) + 2 * len(groups)) + 8
        self.index_type: type[np.signedinteger] = np.int32 if largest < 2**31 else np.int64
        self.constants: list[str] = []
        #: Pool index of each piece of each record, one array per piece position (-1: left out).
        self.slots: list[np.ndarray] = []
        self._next_value = 0
        state = self._state()
        for member in top:
            self._add_member(member, state, opener="{")
        for name, members in groups.items():
            self.slots.append(self._constant(*_glues("{", _key(name) + ":{")) + state)
            state[:] = 2
            inner = self._state()
            for member in members:
                self._add_member(member, inner, opener="")
            self.slots.append(self._constant("}", '"}', "}") + inner)
        ends = ("{}", '"}', "}")
        end = self._constant(*(e + "," for e in ends)) + state
        end[-1] = self._constant(*ends) + state[-1]
        self.slots.append(end)
        self.brackets = self._constant("[", "]")

    def _state(self) -> np.ndarray:
        return np.zeros(self.rows, dtype=self.index_type)

    def _constant(self, *texts: str) -> int:
        """Add constants to the pool; the pool index of the first."""
        index = self.first_constant + len(self.constants)
        self.constants += texts
        return index

    def _add_member(self, member: _Member, state: np.ndarray, opener: str) -> None:
        """Slots of one member (the constant before it, its value), and the object's state after it."""
        glue = self._constant(*_glues(opener, member.key + (':"' if member.quoted else ":"))) + state
        start = self._next_value * self.rows
        self._next_value += 1
        value = np.arange(start, start + self.rows, dtype=self.index_type)
        after = 1 if member.quoted else 2
        if member.values.null_count:
            present = member.values.is_valid().to_numpy(zero_copy_only=False)
            glue[~present] = -1
            value[~present] = -1
            state[present] = after
        else:
            state[:] = after
        self.slots += [glue, value]

    def body(self) -> bytes:
        """The JSON array: gather the views of every present piece in order, and copy their bytes once."""
        pool = pa.concat_arrays([v.cast(pa.string_view()) for v in self.values]
                                + [pa.array(self.constants, pa.string_view())])
        buffers = pool.buffers()
        views = np.frombuffer(buffers[1], dtype=np.uint64, count=2 * (pool.offset + len(pool))).reshape(-1, 2)
        layout = np.stack(self.slots, axis=1).ravel()
        order = np.concatenate([np.array([self.brackets], self.index_type), layout[layout >= 0],
                                np.array([self.brackets + 1], self.index_type)])
        pieces = np.take(views[pool.offset:], order, axis=0)
        text = pa.Array.from_buffers(pa.string_view(), len(order), [None, pa.py_buffer(pieces), *buffers[2:]])
        joined = text.cast(pa.large_string())  # 64-bit offsets: no limit on the body's size
        bounds = np.frombuffer(joined.buffers()[1], dtype=np.int64)[[joined.offset, joined.offset + len(joined)]]
        return bytes(joined.buffers()[2].slice(int(bounds[0]), int(bounds[1] - bounds[0])).to_pybytes())


def _glues(opener: str, key: str) -> tuple[str, str, str]:
    """The constant before a member by state: first in its object, after a quoted value, after another."""
    return opener + key, '",' + key, "," + key


def _plain_text(series: pd.Series) -> pa.Array | None:
    """A text column (``string`` or ``large_string``) if none of its values needs escaping in JSON (else None)."""
    text = column_array(series)
    if pa.types.is_dictionary(text.type):
        text = text.dictionary_decode()
    if pa.types.is_string(text.type):
        width: type[np.signedinteger] = np.int32
    elif pa.types.is_large_string(text.type):
        width = np.int64
    else:
        return None
    _, offsets, data = text.buffers()
    if data is None or offsets is None:
        return text
    bounds = np.frombuffer(offsets, dtype=width)[text.offset:text.offset + len(text) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)[bounds[0]:bounds[-1]]
    return None if ((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)).any() else text


def column_array(series: pd.Series) -> pa.Array:
    """A column as one contiguous Arrow array (pandas may hold Arrow-backed columns in several chunks).

    pandas' Arrow-backed and masked arrays hand over their Arrow data directly (``__arrow_array__``,
    as ``pa.array`` would after slower checks); a single chunk is used as it is, without a copy.
    """
    to_arrow = getattr(series.array, "__arrow_array__", None)
    arr = to_arrow() if to_arrow is not None else pa.array(series, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def _key(name: str) -> str:
    return json.dumps(str(name), ensure_ascii=False)


def _json_values(series: pd.Series) -> pa.Array:
    """Each value as JSON text (string), null where the value is missing."""
    arr = column_array(series)
    kind = arr.type
    if pa.types.is_dictionary(kind):
        arr, kind = arr.dictionary_decode(), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = arr.cast(pa.string())
        if not pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
            text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
            return pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_integer(kind):
        return arr.cast(pa.string())
    elif pa.types.is_boolean(kind):
        return pc.if_else(arr, "true", "false").cast(pa.string())
    elif pa.types.is_null(kind):
        return pa.nulls(len(arr), pa.string())
    return _json_values_slow(series)


def _json_values_slow(series: pd.Series) -> pa.Array:
    """Other types (floats, dates, strings with control characters) as pandas' JSON writer renders them."""
    values = json.loads(str(series.to_json(orient="values", force_ascii=False)))  # type: ignore[call-overload]
    return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string())
