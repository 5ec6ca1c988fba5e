"""The ``leadflow`` command line: run, campaigns, simulate, report, watch."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from schemas.sources import _USERINFO

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PYTHONTZPATH", "")


def _run_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="load leads from a source into a provider campaign", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="file path, fsspec URL or SQLAlchemy URL")
    p.add_argument("--provider", required=True, help="engage-voice, nlpearl or voiso")
    p.add_argument("--campaign", required=True, help="campaign id (NLPearl: pearl id)")
    p.add_argument("--account", help="Engage Voice sub-account id ('~' = from the credentials)")
    p.add_argument("--base-url", help="provider API base URL (default: *_BASE_URL variable)")
    p.add_argument("--report", help="where to write report.json")
    p.add_argument("--outcomes", help="outcomes file (.csv or .parquet)")
    p.add_argument("--output-dir", default="leadflow-out", help="folder for reports (default leadflow-out)")
    p.add_argument("--dry-run", action="store_true", help="make no provider call; report what would happen")
    p.add_argument("--table", help="table to read from a SQL source")
    p.add_argument("--query", help="SQL query to read (bind values with --param NAME=VALUE)")
    p.add_argument("--param", action="append", default=[], help="query parameter NAME=VALUE")
    p.add_argument("--mapping", help="YAML column mapping (lead field: source column)")
    p.add_argument("--sheet", help="Excel sheet name or index")
    p.add_argument("--format", default="auto", help="auto, csv, tsv, excel, parquet, json, jsonl")
    p.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    p.add_argument("--encoding", help="file encoding (default: detected)")
    p.add_argument("--chunk-size", type=int, default=100_000, help="rows per chunk")
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
    rules.add_argument("--dedup-keep", choices=["first", "last", "all"], default="first")
    rules.add_argument("--dedup-by-external-id", action="store_true")
    rules.add_argument("--dedup-scope", choices=["none", "campaign", "provider", "any"], default="campaign")
    rules.add_argument("--cooldown-days", type=int, default=30)
    rules.add_argument("--dnc", action="append", default=[], help="do-not-call file (repeatable)")
    rules.add_argument("--dnc-sql", action="append", default=[], help="do-not-call SQL as URL#table or URL#query")
    rules.add_argument("--timezone-option", default="AUTO",
                       choices=["AUTO", "NPA_NXX", "ZIPCODE", "EXPLICIT", "NOT_APPLICABLE"])
    gate = rules.add_mutually_exclusive_group()
    gate.add_argument("--window-gate", dest="window_gate", action="store_true", default=None,
                      help="defer leads outside their calling window")
    gate.add_argument("--no-window-gate", dest="window_gate", action="store_false")
    rules.add_argument("--now", help="clock override for calling windows (ISO time, UTC if no offset)")


def _kv(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def password_to_env(url: str, variable: str) -> str:
    """Move a literal password out of a URL into this process's environment, as ``${variable}``.

    Flow parameters are stored by the Prefect server; the run (in this process) reads the
    variable back when it connects, so the password is never stored or shown.
    """
    match = _USERINFO.match(url)
    if not match or not match["password"] or match["password"].startswith("${"):
        return url
    os.environ[variable] = match["password"]  # kept URL-encoded: it goes back into the URL as it was
    return f"{match['scheme']}{match['user']}:${{{variable}}}@{url[match.end():]}"


def _named_password_to_env(entry: str, variable: str) -> str:
    """:func:`password_to_env` for a ``[name=]URL#table`` do-not-call entry."""
    name, sep, rest = entry.partition("=")
    if sep and "://" not in name:
        return f"{name}={password_to_env(rest, variable)}"
    return password_to_env(entry, variable)


#: How ``leadflow run`` ends (also in its help and docs/delivery.md).
EXIT_CODES = """exit codes:
  0    the run completed: every lead has its outcome (some may be rejected, invalid, failed, ...)
  1    nothing could be delivered: every lead meant for the provider failed (kept for the next run)
  2    the run could not start or was refused: bad options or base URL, source or ledger error,
       credentials refused, or another run is loading the same campaign
  3    the outcome counts do not add up (a bug: please report it)
  130  stopped by Ctrl-C (SIGINT); 143: stopped by SIGTERM. Leads not sent are failed and kept;
       requests still out are looked up by the next run"""


def build_run(args: argparse.Namespace) -> dict[str, Any]:
    """The flow parameters for ``leadflow run``.

    Passwords written literally in URL-valued options (source, ledger, do-not-call SQL) move into
    this process's environment: the flow-run parameters the Prefect server stores name the variable.

    Raises:
        ValidationError, ValueError: bad options.
        ConfigurationError: an unknown provider, or a base URL the run may not use.
    """
    from schemas.options import LoadOptions, RuleOptions, RunOptions
    from schemas.sources import SourceSpec
    from tasks.http import check_base_url
    from tasks.providers.registry import provider_class

    sheet: str | int | None = args.sheet
    if isinstance(sheet, str) and sheet.isdigit():
        sheet = int(sheet)
    location = password_to_env(args.source, "LEADFLOW_SOURCE_PASSWORD")
    source = SourceSpec(location=location, table=args.table, query=args.query,
                        params={k: v for k, v in _kv(args.param).items()}, format=args.format,
                        delimiter=args.delimiter, encoding=args.encoding, sheet=sheet,
                        chunk_size=args.chunk_size, mapping_file=args.mapping,
                        watermark_column=args.watermark_column)
    rules = RuleOptions(default_region=args.region, allow_fictional=args.allow_fictional,
                        dedup_keep=args.dedup_keep, dedup_by_external_id=args.dedup_by_external_id,
                        dedup_scope=args.dedup_scope, cooldown_days=args.cooldown_days,
                        dnc_files=[_named_password_to_env(entry, f"LEADFLOW_DNC_FILE_PASSWORD_{i + 1}")
                                   for i, entry in enumerate(args.dnc)],
                        dnc_sql=[_named_password_to_env(entry, f"LEADFLOW_DNC_PASSWORD_{i + 1}")
                                 for i, entry in enumerate(args.dnc_sql)],
                        timezone_option=args.timezone_option,
                        window_gate=args.window_gate)
    cls = provider_class(args.provider)
    base_url = check_base_url(args.base_url, cls.name, cls.known_hosts) if args.base_url else None
    load = LoadOptions(dry_run=args.dry_run, base_url=base_url, batch_size=args.batch_size,
                       max_attempts=args.max_attempts, rate_limits=not args.no_rate_limits,
                       verify_tls=not args.insecure, provider_options=_kv(args.provider_option),
                       lease_wait_s=args.wait)
    ledger = password_to_env(args.ledger, "LEADFLOW_LEDGER_PASSWORD") if args.ledger else None
    options = RunOptions(rules=rules, load=load, full_refresh=args.full_refresh, ledger_url=ledger,
                         output_dir=args.output_dir, report_path=args.report, outcomes_path=args.outcomes,
                         now=args.now)
    return {"source": source, "provider": args.provider, "campaign": args.campaign,
            "account": args.account, "options": options}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leadflow`` console script."""
    parser = argparse.ArgumentParser(prog="leadflow", description="Load sales leads into outbound dialers.")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    c = sub.add_parser("campaigns", help="list a provider's campaigns (NLPearl: pearls)")
    c.add_argument("--provider", required=True)
    c.add_argument("--account")
    c.add_argument("--base-url")
    s = sub.add_parser("simulate", help="run the provider simulators on loopback")
    s.add_argument("--engage-port", type=int, default=8701)
    s.add_argument("--nlpearl-port", type=int, default=8702)
    s.add_argument("--voiso-port", type=int, default=8703)
    r = sub.add_parser("report", help="print past runs from the ledger")
    r.add_argument("run_id", nargs="?")
    r.add_argument("--ledger")
    r.add_argument("--limit", type=int, default=20)
    w = sub.add_parser("watch", help="announce complete new files in a landing folder (leadflow.source.landed)")
    w.add_argument("directory")
    w.add_argument("--pattern", default="*.csv", help="glob pattern in the folder (default *.csv; **/*.csv descends)")
    w.add_argument("--stable-seconds", type=float, default=5.0, help="how long a file must stay unchanged")
    w.add_argument("--once", action="store_true", help="scan once and exit")
    w.add_argument("--state", help="state file (default DIR/.leadflow-watch.json)")
    args = parser.parse_args(argv)
    from flows import commands

    handler = {"run": commands.run, "campaigns": commands.campaigns, "simulate": commands.simulate,
               "report": commands.report, "watch": commands.watch}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
