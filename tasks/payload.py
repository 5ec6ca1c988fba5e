"""Request bodies built column-wise by pandas' JSON writer: no Python dict per lead."""

from __future__ import annotations

import re

import pandas as pd

_SEP = "\u00a7\u00a7"
_NULL_AFTER = re.compile(r',"[^"\n]+":null')
_NULL_FIRST = re.compile(r'\{"[^"\n]+":null,?')


def json_records(frame: pd.DataFrame, *, nested: dict[str, list[str]] | None = None,
                 drop_null: bool = True) -> bytes:
    """A JSON array with one object per row of ``frame``.

    Args:
        frame: columns named as the API fields, values already in the API's types (use
            nullable ``Int64`` for integers).
        nested: object fields made of several columns, e.g. ``{"callData": ["plan", "email"]}``.
        drop_null: omit keys whose value is null (also inside nested objects).
    """
    nested = {k: v for k, v in (nested or {}).items() if v}
    inner = {c for cols in nested.values() for c in cols}
    parts = [frame[[c for c in frame.columns if c not in inner]]]
    parts += [frame[cols].rename(columns={c: f"{name}{_SEP}{c}" for c in cols})
              for name, cols in nested.items()]
    text = pd.concat(parts, axis=1).to_json(orient="records", lines=True, force_ascii=False)
    # One record per line (JSON escapes newlines inside strings); nested columns come last.
    for i, (name, cols) in enumerate(nested.items()):
        close = "}" if i else ""
        first = f'"{name}{_SEP}{cols[0]}":'
        text = text.replace(f",{first}", f'{close},"{name}":{{"{cols[0]}":')
        text = text.replace(f"{{{first}", f'{{"{name}":{{"{cols[0]}":')
        text = text.replace(f',"{name}{_SEP}', ',"')
    if nested:
        text = text.replace("}\n", "}}\n")
    if drop_null:
        text = _NULL_AFTER.sub("", text)
        text = _NULL_FIRST.sub("{", text)
    body = text.rstrip("\n").replace("\n", ",")
    return f"[{body}]".encode()
