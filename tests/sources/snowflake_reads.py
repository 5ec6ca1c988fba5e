"""Reads of leadflow's SQL source against fakesnow's Snowflake server; run in .venv-snowflake.

Not a test module: tests/sources/test_sources_snowflake.py runs it with ``.venv-snowflake/bin/python``
and the checkout on ``PYTHONPATH`` (fakesnow cannot be installed beside requirements.lock; see
docs/sources.md). It reads a JSON plan on stdin::

    {"setup": ["create table ...", ...],
     "location": "snowflake://loader:${VAR}@127.0.0.1:PORT/CRM/PUBLIC?account=fakesnow&protocol=http",
     "reads": {"name": {"since": null, "spec": {"table": "leads", ...}}, ...}}

(a read may name its own ``location``: this environment has the snowflake extra, not bigquery)

starts fakesnow's server on a free loopback port, runs ``setup`` through the Snowflake connector,
then opens each read with ``tasks.sources.open_source`` on ``location`` (``PORT`` replaced) and
writes one result per read to the JSON file named by the first argument: the chunk sizes, the lead
ids, ``max_watermark``, the columns and the first lead, or the ``SourceError`` text. (The server's
access log goes to stdout, hence the file.)
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any

import fakesnow
import snowflake.connector

from schemas.sources import SourceSpec
from tasks.sources import SourceError, open_source


def _read(location: str, since: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        reader = open_source(SourceSpec(location=location, **spec), since=since)
        chunks = list(reader)
    except SourceError as exc:
        return {"error": str(exc)}
    first = chunks[0].iloc[0] if chunks else None
    return {
        "sizes": [len(chunk) for chunk in chunks],
        "ids": [str(i) for chunk in chunks for i in chunk["external_id"]],
        "max_watermark": reader.max_watermark,
        "rows_read": reader.rows_read,
        "columns": [str(col) for col in chunks[0].columns] if chunks else [],
        "first": None if first is None else {str(k): None if v is None else str(v) for k, v in first.items()},
    }


def main(out_path: str) -> None:
    plan = json.load(sys.stdin)
    with fakesnow.server() as server:
        conn = snowflake.connector.connect(**server, database="CRM", schema="PUBLIC")
        try:
            for statement in plan["setup"]:
                conn.cursor().execute(statement)
        finally:
            conn.close()
        location = plan["location"].replace("PORT", str(server["port"]))
        results = {name: _read(read.get("location", location), read["since"], read["spec"])
                   for name, read in plan["reads"].items()}
    versions = {name: version(name) for name in
                ("fakesnow", "snowflake-connector-python", "snowflake-sqlalchemy", "SQLAlchemy")}
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump({"versions": versions, "reads": results}, out)


if __name__ == "__main__":
    main(sys.argv[1])
