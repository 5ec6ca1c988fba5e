"""The disposition sync: what the dialer did with the leads loaded lately, into the ledger.

For the leads the ledger says were loaded into a campaign in the last ``days`` days, reads what the
dialer knows (Engage ``leadSearch``, NLPearl's look-up by external id; in batches, under the
provider's rate limits), maps each lead's state and disposition to an action, records them, and puts
the ``dnc`` and ``bad_number`` phones on the internal do-not-call list every later run applies.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.choices import ProviderChoice
from flows.hooks import run_name, slug, tag_run
from schemas.dispositions import ProviderMapping, merged, read_mapping_file
from schemas.errors import ConfigurationError
from schemas.options import LoadOptions, RunOptions
from schemas.sources import SourceSpec
from tasks.delivery.context import Delivery
from tasks.dispositions import SyncCounts, sync_batch, sync_markdown
from tasks.ledger import Ledger, utcnow
from tasks.ledger_feedback import Feedback
from tasks.masking import mask_text
from tasks.providers.base import Provider, unsupported_dispositions
from tasks.providers.registry import create_provider, provider_class
from tasks.writeback import WriteBackTarget, target_for

#: Leads looked up per batch (one Prefect task each).
BATCH = 5_000


@task(name="Sync a batch of dispositions", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def sync_part(prov: Provider, feedback: Feedback, mapping: ProviderMapping, part: Any, sync_id: str,
              counts: SyncCounts, target: WriteBackTarget | None) -> int:
    """Read, map and record one batch (and write it back); the leads the dialer has."""
    part_counts = SyncCounts()
    found = sync_batch(prov, feedback, mapping, part, sync_id, part_counts, target)
    _add(counts, part_counts)  # only once the batch is recorded: a retried batch is not counted twice
    return len(found)


def _add(total: SyncCounts, part: SyncCounts) -> None:
    for name in ("leads", "found", "not_found", "newly_listed"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.by_action.update(part.by_action)
    total.by_disposition.update(part.by_disposition)
    total.listed_examples += part.listed_examples[:max(20 - len(total.listed_examples), 0)]


def mapping_for(provider: str, mapping_file: str | None) -> ProviderMapping:
    """The provider's default mapping with the file's values on top.

    Raises:
        ConfigurationError: the provider documents no way to read dispositions, or the file is bad.
    """
    cls = provider_class(provider)
    if not cls.disposition_map:
        raise ConfigurationError(unsupported_dispositions(cls.name))
    return merged(cls.disposition_map, read_mapping_file(mapping_file, cls.name) if mapping_file else None)


@flow(name="sync-dispositions", validate_parameters=True, flow_run_name=run_name)
def sync_dispositions(provider: ProviderChoice, campaign: str, days: int = 7, account: str | None = None,
                      mapping_file: str | None = None, ledger_url: str | None = None,
                      load: LoadOptions = LoadOptions(), batch_size: int = BATCH, write_back: str | None = None,
                      source: SourceSpec | None = None) -> dict[str, Any]:
    """Record what the dialer knows of the leads loaded into a campaign lately; suppress its do-not-call phones.

    Args:
        provider: the dialer (Voiso documents no way to read dispositions: the run fails saying so).
        campaign: the provider's campaign id (NLPearl: pearl id).
        days: look up the leads the ledger says were loaded in the last this many days.
        account: Engage sub-account id (``~`` or empty: resolved from the credentials).
        mapping_file: YAML, JSON or TOML file overriding the default mapping of states and
            dispositions to actions (dnc, bad_number, reached, none); docs/dispositions.md.
        ledger_url: the ledger the load runs share (default LEADFLOW_LEDGER_URL).
        load: base URL, TLS, timeouts, rate limits and provider options (e.g. lookup_concurrency).
        batch_size: leads looked up per batch.
        write_back: a write-back table (docs/writeback.md) to upsert each found lead's disposition,
            disposition_at and disposition_action into, keyed by (external id, provider, campaign).
        source: the source the leads were loaded from (its database, or the folder of its file,
            holds the write-back table); needed with ``write_back``.

    Returns:
        The counts: leads, found, not_found, no_external_id, newly_listed, by_action, by_disposition.
    """
    log = get_run_logger()
    if days < 1 or batch_size < 1:
        raise ConfigurationError(f"days and batch_size must be at least 1 (got {days} and {batch_size})")
    mapping = mapping_for(provider, mapping_file)
    if write_back and source is None:
        raise ConfigurationError("write-back: name the source the leads came from (its database holds the table)")
    target = target_for(source, write_back) if write_back and source is not None else None
    tag_run(provider, campaign)
    opts = RunOptions(load=load, ledger_url=ledger_url)
    try:
        ledger = Ledger(opts.resolved_ledger_url())
    except ValueError as ex:  # a ${NAME} in the URL that is not set
        raise ConfigurationError(f"ledger: {ex}") from None
    feedback = Feedback(ledger)
    prov = create_provider(provider, campaign=campaign, account=account, load=load)
    sync_id = str(flow_run.id or uuid.uuid4())
    counts = SyncCounts()
    try:
        prov.calls = Delivery.create(prov, ledger, opts.load, run_id=sync_id).call_policy()
        prov.prepare()
        leads = feedback.loaded_since(provider=provider, account=prov.account, campaign=campaign,
                                      since=utcnow() - timedelta(days=days))
        with_id = leads[leads["external_id"].notna()].reset_index(drop=True)
        counts.no_external_id = counts.leads = len(leads) - len(with_id)
        for start in range(0, len(with_id), batch_size):
            sync_part(prov, feedback, mapping, with_id.iloc[start:start + batch_size], sync_id, counts, target)
    finally:
        prov.client.close()
    result = {"sync_id": sync_id, "provider": provider, "campaign": campaign, "days": days, **counts.as_dict()}
    try:
        create_markdown_artifact(key=f"leadflow-{slug(provider)}-{slug(campaign)}-dispositions",
                                 markdown=sync_markdown(provider, campaign, days, counts),
                                 description=f"Dispositions of sync {sync_id}")
    except Exception as ex:  # the sync is recorded whether or not its artifact could be written
        log.warning("could not write the sync artifact: %s", type(ex).__name__)
    log.info(mask_text(f"{provider} campaign {campaign}: {counts.leads} leads, {counts.found} found "
                       f"({dict(counts.by_action)}), {counts.newly_listed} newly on the internal do-not-call list"))
    return result
