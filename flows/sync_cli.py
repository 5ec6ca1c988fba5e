"""``leadflow sync-dispositions``: its arguments and what it does."""

from __future__ import annotations

import argparse
import logging
from typing import Any

#: How ``leadflow sync-dispositions`` ends.
SYNC_EXIT_CODES = """exit codes:
  0    the sync completed: every lead loaded in the window is found, not found or without an external id
  2    the sync could not start or was refused: bad options or mapping file, ledger error, credentials
       refused, or the provider documents no way to read dispositions (Voiso)
  3    the counts do not add up (a bug: please report it)"""


def add_sync_parser(sub: Any, providers: list[str]) -> None:
    """The ``sync-dispositions`` subcommand."""
    p = sub.add_parser("sync-dispositions", epilog=SYNC_EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="record what the dialer did with recently loaded leads; suppress do-not-call phones")
    p.add_argument("--provider", required=True, choices=providers, help="the dialer")
    p.add_argument("--campaign", required=True, help="campaign id (NLPearl: pearl id)")
    p.add_argument("--days", type=int, default=7, help="leads loaded in the last N days (default 7)")
    p.add_argument("--mapping", help="YAML, JSON or TOML file overriding the disposition -> action mapping")
    p.add_argument("--account", help="Engage Voice sub-account id ('~' = from the credentials)")
    p.add_argument("--base-url", help="provider API base URL (default: *_BASE_URL variable)")
    p.add_argument("--ledger-url", "--ledger", dest="ledger",
                   help="ledger URL (default LEADFLOW_LEDGER_URL or sqlite:///leadflow-ledger.db)")
    p.add_argument("--batch-size", type=int, default=5_000, help="leads looked up per batch (default 5000)")
    p.add_argument("--no-rate-limits", action="store_true", help="do not apply documented rate limits")
    p.add_argument("--insecure", action="store_true", help="skip TLS verification (loopback simulators only)")
    p.add_argument("--provider-option", action="append", default=[], metavar="KEY=VALUE",
                   help="provider option, e.g. lookup_concurrency=4 (JSON values allowed)")
    p.add_argument("--verbose", action="store_true", help="print Prefect's log lines of the run as well")
    p.add_argument("--write-back", metavar="TABLE",
                   help="also upsert each lead's disposition into this write-back table (needs --source)")
    p.add_argument("--source", help="the source the leads came from: SQLAlchemy URL (with --table) or file path")
    p.add_argument("--table", help="the source's table, when --source is a database")


def sync(args: argparse.Namespace) -> int:
    """``leadflow sync-dispositions``; its exit codes are ``SYNC_EXIT_CODES``."""
    from pydantic import ValidationError
    from rich.markup import escape
    from rich.table import Table

    from flows.cli_logs import Terminal, quiet_prefect
    from flows.commands import PREFECT_RUN_LOGGERS, QuietExpected, console, err, shield_local_server
    from flows.dispositions import mapping_for, sync_dispositions
    from flows.run_params import _kv, password_to_env
    from schemas.errors import ConfigurationError
    from schemas.options import LoadOptions
    from schemas.sources import SourceSpec
    from tasks.http import check_base_url
    from tasks.masking import mask_text
    from tasks.providers.errors import ProviderError
    from tasks.providers.registry import provider_class

    try:
        mapping_for(args.provider, args.mapping)  # says at once when the provider or the file cannot work
        cls = provider_class(args.provider)
        base_url = check_base_url(args.base_url, cls.name, cls.known_hosts) if args.base_url else None
        load = LoadOptions(base_url=base_url, rate_limits=not args.no_rate_limits, verify_tls=not args.insecure,
                           provider_options=_kv(args.provider_option))
        if args.write_back and not args.source:
            raise ConfigurationError("--write-back needs --source: the source the leads came from")
        source = (SourceSpec(location=password_to_env(args.source, "LEADFLOW_SOURCE_PASSWORD"), table=args.table)
                  if args.source else None)
    except (ValidationError, ValueError, ConfigurationError) as ex:
        err.print(f"[red]leadflow: {escape(mask_text(str(ex)))}[/red]", soft_wrap=True)
        return 2
    ledger = password_to_env(args.ledger, "LEADFLOW_LEDGER_PASSWORD") if args.ledger else None

    expected = (ConfigurationError, ProviderError)
    quiet = QuietExpected(expected)
    terminal = Terminal(err)
    for name in PREFECT_RUN_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    try:
        shield_local_server()
        with quiet_prefect(terminal, verbose=args.verbose):
            result = sync_dispositions(provider=args.provider, campaign=args.campaign, days=args.days,
                                       account=args.account, mapping_file=args.mapping, ledger_url=ledger,
                                       load=load, batch_size=args.batch_size, write_back=args.write_back,
                                       source=source)
    except expected as ex:
        terminal.say(str(ex), "red")
        return 2
    finally:
        for name in PREFECT_RUN_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)
    table = Table(title=f"{args.provider} campaign {args.campaign}: dispositions of {result['leads']} leads")
    for col in ("state", "disposition", "action", "leads"):
        table.add_column(col, justify="right" if col == "leads" else "left")
    for row in result["by_disposition"]:
        table.add_row(row["state"] or "-", row["disposition"] or "-", row["action"], str(row["leads"]))
    console.print(table)
    console.print(f"found {result['found']}, not found {result['not_found']}, without an external id "
                  f"{result['no_external_id']}; {result['newly_listed']} newly on the internal do-not-call list",
                  highlight=False, soft_wrap=True)
    if not result["balanced"]:
        err.print("[red]leadflow: the sync's counts do not add up[/red]")
        return 3
    return 0
