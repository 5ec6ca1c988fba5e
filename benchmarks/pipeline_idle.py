"""How long the dialer waits for leadflow: N leads to the NLPearl simulator, one request in flight.

    python -m benchmarks.pipeline_idle --rows 1000000 --repeat 3            # pipelined first attempts
    python -m benchmarks.pipeline_idle --rows 1000000 --repeat 3 --serial   # one batch after another

Only delivery is timed (leads are made ready in memory; no source, rules or Prefect server): each
batch recorded ``sending`` in a SQLite ledger, its body built, sent, answered and settled. The
simulator runs in a process of its own, as a dialer would. Reported per run, and the median:

- ``wall_s``: the delivery call, first batch recorded to last one settled;
- ``busy_s``: time the simulator spent inside its handler (from its request log, ``/_sim/received``:
  each request from arrival to answer, overlaps counted once);
- ``idle_s``: from the first request's arrival to the last answer, the time no request was in the
  simulator: the connection waiting for leadflow.

``--serial`` runs the earlier path, which is still how a batch's later attempts go
(``open_and_deliver``: record, build, send, settle, then the next batch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any

import httpx
import numpy as np
import pandas as pd

from benchmarks.profile_simulator import simulator

#: The simulator's test Pearl and credentials.
PEARL = "6a27be5ae83373643a10ae34"
CREDENTIALS = {"NLPEARL_ACCOUNT_ID": "sim-account", "NLPEARL_SECRET_KEY": "sim-secret"}


def nlpearl_app() -> Any:
    """The NLPearl simulator app, taking a phone it already holds (repeated runs send the same leads)."""
    from simulators.nlpearl import NLPearlSimConfig, create_app

    return create_app(NLPearlSimConfig(duplicates="allow"))


def ready_leads(rows: int) -> pd.DataFrame:
    """``rows`` canonical ready leads with distinct phones and external ids."""
    n = np.arange(rows)
    digits = pd.Series(np.char.add("1212", np.char.zfill(n.astype(str), 7)), dtype="string")
    return pd.DataFrame({"row": n + 1, "phone_e164": "+" + digits, "phone_key": digits,
                         "external_id": pd.Series(np.char.add("L", n.astype(str)), dtype="string"),
                         "first_name": pd.Series(["Ann"] * rows, dtype="string")})


def sim_times(url: str) -> tuple[float, float]:
    """Busy and idle seconds of the simulator's load requests (see the module's docstring)."""
    records = [r for r in httpx.get(f"{url}/_sim/received", timeout=60).json()
               if r["method"] == "POST" and r["ended"] is not None]
    spans = sorted((r["started"], r["ended"]) for r in records)
    busy, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    return busy, (spans[-1][1] - spans[0][0]) - busy if spans else 0.0


def run_once(url: str, leads: pd.DataFrame, batch_size: int, *, serial: bool) -> dict[str, Any]:
    """One delivery of ``leads``; its times."""
    from schemas.options import LoadOptions
    from tasks.delivery.attempt import open_and_deliver, plan_batches
    from tasks.delivery.context import Delivery
    from tasks.delivery.pipelined import first_attempts
    from tasks.ledger import Ledger
    from tasks.providers.registry import create_provider

    httpx.post(f"{url}/_sim/reset", timeout=60).raise_for_status()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(f"sqlite:///{tmp}/ledger.db")
        load = LoadOptions(base_url=url, batch_size=batch_size, concurrency=1, timeout_s=120)
        provider = create_provider("nlpearl", campaign=PEARL, account=None, load=load)
        ctx = Delivery.create(provider, ledger, load, run_id="bench")
        batches = [(f"bench-{i:05d}", b) for i, b in enumerate(plan_batches(leads, ctx.batch_size))]
        started = time.perf_counter()
        if serial:
            loaded = sum(int((open_and_deliver(ctx, b, i)["outcome"] == "loaded").sum()) for i, b in batches)
        else:
            loaded = sum(int((a.results["outcome"] == "loaded").sum()) for a in first_attempts(ctx, batches)
                         if a.results is not None)
        wall = time.perf_counter() - started
        provider.client.close()
        ledger.engine.dispose()
    busy, idle = sim_times(url)
    return {"wall_s": round(wall, 2), "busy_s": round(busy, 2), "idle_s": round(idle, 2), "loaded": loaded,
            "requests": len(batches)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serial", action="store_true", help="one batch after another (the earlier path)")
    args = parser.parse_args(argv)
    os.environ.update(CREDENTIALS)
    leads = ready_leads(args.rows)
    with simulator("benchmarks.pipeline_idle:nlpearl_app") as url:
        runs = [run_once(url, leads, args.batch_size, serial=args.serial) for _ in range(args.repeat)]
    assert all(r["loaded"] == args.rows for r in runs), runs
    out = {"mode": "serial" if args.serial else "pipelined", "rows": args.rows, "batch_size": args.batch_size,
           "runs": runs, "median": {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "busy_s", "idle_s")}}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
