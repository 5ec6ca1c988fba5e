"""The ``leadflow`` command line: run, campaigns, simulate, report, watch, hold, sync-dispositions."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from schemas.errors import ConfigurationError
from schemas.sources import CHUNK_ROWS

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PYTHONTZPATH", "")
# Without PREFECT_API_URL a run starts a temporary server; on a busy machine it needs more than
# Prefect's default 20 s to come up (and the run would die before reading a row).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _run_parser(sub: Any, providers: list[str]) -> None:
    p = sub.add_parser("run", help="load leads from a source into a provider campaign", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="file path, fsspec URL or SQLAlchemy URL")
    p.add_argument("--provider", required=True, choices=providers, help="the dialer")
    p.add_argument("--campaign", required=True, help="campaign id (NLPearl: pearl id)")
    p.add_argument("--account", help="Engage Voice sub-account id ('~' = from the credentials)")
    p.add_argument("--base-url", help="provider API base URL (default: *_BASE_URL variable)")
    p.add_argument("--report", help="where to write report.json")
    p.add_argument("--outcomes", help="outcomes file (.csv or .parquet)")
    p.add_argument("--output-dir", default="leadflow-out", help="folder for reports (default leadflow-out)")
    p.add_argument("--dry-run", action="store_true", help="make no provider call; report what would happen")
    p.add_argument("--write-back", metavar="TABLE",
                   help="also write each source row's outcome into TABLE in the source's database (a file of that"
                   " name beside a file source); see docs/writeback.md")
    p.add_argument("--verbose", action="store_true", help="print Prefect's log lines of the run as well")
    p.add_argument("--table", help="table to read from a SQL source")
    p.add_argument("--query", help="SQL query to read (bind values with --param NAME=VALUE)")
    p.add_argument("--param", action="append", default=[], help="query parameter NAME=VALUE")
    p.add_argument("--mapping", help="YAML column mapping (lead field: source column)")
    p.add_argument("--sheet", help="Excel sheet name or index")
    p.add_argument("--format", default="auto", help="auto, csv, tsv, excel, parquet, json, jsonl")
    p.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    p.add_argument("--encoding", help="file encoding (default: detected)")
    p.add_argument("--chunk-size", type=int, default=CHUNK_ROWS, help=f"rows per chunk (default {CHUNK_ROWS:,})")
    p.add_argument("--watermark-column", help="incremental extraction by this column")
    p.add_argument("--full-refresh", action="store_true", help="ignore the stored watermark")
    p.add_argument("--ledger", help="ledger URL (default LEADFLOW_LEDGER_URL or sqlite:///leadflow-ledger.db)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another run of the same campaign to end (default: exit 2 at once)")
    p.add_argument("--batch-size", type=int, help="leads per request")
    p.add_argument("--max-attempts", type=int, default=5, help="attempts per batch")
    p.add_argument("--no-rate-limits", action="store_true", help="do not apply documented rate limits")
    p.add_argument("--insecure", action="store_true", help="skip TLS verification (loopback simulators only)")
    p.add_argument("--provider-option", action="append", default=[], metavar="KEY=VALUE",
                   help="provider option, e.g. duplicate_handling=RETAIN_ALL (JSON values allowed)")
    rules = p.add_argument_group("rules")
    rules.add_argument("--region", default="US", help="default phone region")
    rules.add_argument("--allow-fictional", action="store_true", help="accept 555-01xx numbers")
    rules.add_argument("--dedup-keep", choices=["first", "last", "all"], default="first",
                       help="which of a run's duplicate leads is sent (default first; all sends every one)")
    rules.add_argument("--dedup-by-external-id", action="store_true",
                       help="leads with the same external id are duplicates too")
    rules.add_argument("--dedup-scope", choices=["none", "campaign", "provider", "any"], default="campaign",
                       help="where an earlier load makes a lead a duplicate (default campaign)")
    rules.add_argument("--cooldown-days", type=int, default=30,
                       help="how far back earlier loads count for dedup (default 30)")
    rules.add_argument("--dnc", action="append", default=[], help="do-not-call file (repeatable)")
    rules.add_argument("--dnc-sql", action="append", default=[], help="do-not-call SQL as URL#table or URL#query")
    rules.add_argument("--timezone-option", default="AUTO",
                       choices=["AUTO", "NPA_NXX", "ZIPCODE", "EXPLICIT", "NOT_APPLICABLE"],
                       help="how a lead's time zone is found (default AUTO: the lead's own time zone field,"
                       " else ZIP, else area code)")
    gate = rules.add_mutually_exclusive_group()
    gate.add_argument("--window-gate", dest="window_gate", action="store_true", default=None,
                      help="defer leads outside their calling window")
    gate.add_argument("--no-window-gate", dest="window_gate", action="store_false",
                      help="send leads outside their calling window too (the dialer enforces windows)")
    rules.add_argument("--now", help="clock override for calling windows (ISO time, UTC if no offset)")


#: How ``leadflow run`` ends (also in its help and docs/delivery.md).
EXIT_CODES = """exit codes:
  0    the run completed: every lead has its outcome (some may be rejected, invalid, failed, ...)
  1    nothing could be delivered: every lead meant for the provider failed (kept for the next run)
  2    the run could not start or was refused: bad options or base URL, source or ledger error,
       credentials refused, or another run is loading the same campaign
  3    the outcome counts do not add up (a bug: please report it)
  4    the campaign is on hold: nothing was sent (leadflow hold list / leadflow hold lift)
  130  stopped by Ctrl-C (SIGINT); 143: stopped by SIGTERM. Leads not sent are failed and kept;
       requests still out are looked up by the next run"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leadflow`` console script."""
    try:
        parser = build_parser()
    except ConfigurationError as ex:  # a provider named in the environment cannot load
        print(f"leadflow: {ex}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    from flows import commands, sync_cli

    handler = {"run": commands.run, "campaigns": commands.campaigns, "simulate": commands.simulate,
               "report": commands.report, "watch": commands.watch, "hold": commands.hold,
               "sync-dispositions": sync_cli.sync}[args.command]
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    """The ``leadflow`` command line and its subcommands; ``--provider`` offers the registered providers."""
    from flows.sync_cli import add_sync_parser
    from tasks.providers.registry import provider_names

    providers = provider_names()
    parser = argparse.ArgumentParser(prog="leadflow", description="Load sales leads into outbound dialers.")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub, providers)
    add_sync_parser(sub, providers)
    c = sub.add_parser("campaigns", help="list a provider's campaigns (NLPearl: pearls)")
    c.add_argument("--provider", required=True, choices=providers, help="the dialer")
    c.add_argument("--account", help="Engage Voice sub-account id (default: from the credentials)")
    c.add_argument("--base-url", help="provider API base URL (default: *_BASE_URL variable)")
    s = sub.add_parser("simulate", help="run the provider simulators on loopback")
    s.add_argument("--port", action="append", default=[], metavar="NAME=PORT",
                   help="port of one provider's simulator, e.g. voiso=9003 (0: a free one; repeatable)")
    s.add_argument("--dispositions", action="store_true",
                   help="answer look-ups as if every lead was dialed once (results hashed from the phone)")
    r = sub.add_parser("report", help="print past runs from the ledger")
    r.add_argument("run_id", nargs="?", help="one run (its id or the first 8 characters of it)")
    r.add_argument("--ledger", help="ledger URL (default LEADFLOW_LEDGER_URL or sqlite:///leadflow-ledger.db)")
    r.add_argument("--limit", type=int, default=20, help="how many recent runs (default 20)")
    h = sub.add_parser("hold", help="put a campaign on hold (its runs send nothing), lift it, or list holds")
    h.add_argument("action", choices=["put", "lift", "list"], help="put a hold, lift it, or list the holds")
    h.add_argument("--provider", choices=providers, help="the dialer (put, lift)")
    h.add_argument("--campaign", help="the provider's campaign id (put, lift)")
    h.add_argument("--reason", default="put on hold by an operator", help="why (put; shown by every held run)")
    h.add_argument("--ledger", help="ledger URL (default LEADFLOW_LEDGER_URL or sqlite:///leadflow-ledger.db)")
    w = sub.add_parser("watch", help="announce complete new files in a landing folder (leadflow.source.landed)")
    w.add_argument("directory", help="the landing folder to watch")
    w.add_argument("--pattern", default="*.csv", help="glob pattern in the folder (default *.csv; **/*.csv descends)")
    w.add_argument("--stable-seconds", type=float, default=5.0, help="how long a file must stay unchanged")
    w.add_argument("--once", action="store_true", help="scan once and exit")
    w.add_argument("--state", help="state file (default DIR/.leadflow-watch.json)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
