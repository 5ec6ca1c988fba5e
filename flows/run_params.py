"""``leadflow run``'s arguments as flow parameters (a literal password moved out of the URL first)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any

from schemas.sources import _USERINFO


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


def build_run(args: argparse.Namespace) -> dict[str, Any]:
    """The flow parameters for ``leadflow run``.

    Raises:
        ValueError: an option is invalid (one line naming each wrong option).
    """
    from pydantic import ValidationError

    from tasks.sources.errors import one_line

    try:
        return _build_run(args)
    except ValidationError as ex:
        raise ValueError(one_line(ex)) from None


def _named_password_to_env(entry: str, variable: str) -> str:
    """:func:`password_to_env` for a ``[name=]URL#table`` do-not-call entry."""
    name, sep, rest = entry.partition("=")
    if sep and "://" not in name:
        return f"{name}={password_to_env(rest, variable)}"
    return password_to_env(entry, variable)


def _build_run(args: argparse.Namespace) -> dict[str, Any]:
    """Passwords written literally in URL-valued options (source, ledger, do-not-call lists) move into
    this process's environment: the flow-run parameters the Prefect server stores name the variable.

    Raises:
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
                         now=args.now, write_back=args.write_back)
    return {"source": source, "provider": args.provider, "campaign": args.campaign,
            "account": args.account, "options": options}
