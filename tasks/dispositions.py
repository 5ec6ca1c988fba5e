"""One batch of a disposition sync: read what the dialer knows, map it to actions, record it; and the counts.

Every lead the ledger says was loaded ends in exactly one bucket: ``found`` (the dialer has it:
its state, disposition and action are recorded), ``not_found`` (the dialer does not have it any
more) or ``no_external_id`` (it cannot be looked up). ``found`` splits by action and by
(state, disposition).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from schemas.dispositions import ACTIONS, ProviderMapping, actions
from tasks.ledger import utcnow
from tasks.ledger_feedback import Feedback
from tasks.masking import mask_phone
from tasks.providers.base import Provider
from tasks.rules.feedback import disposition_text
from tasks.writeback import WriteBackTarget, upsert_rows


@dataclass
class SyncCounts:
    """The counts of a sync; they add up (``balanced``)."""

    leads: int = 0
    found: int = 0
    not_found: int = 0
    no_external_id: int = 0
    newly_listed: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    by_disposition: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: Masked phones newly put on the internal do-not-call list (a few, for the artifact).
    listed_examples: list[dict[str, str]] = field(default_factory=list)

    def balanced(self) -> bool:
        """Every lead in one bucket, every found lead with one action and one (state, disposition)."""
        return (self.leads == self.found + self.not_found + self.no_external_id
                and self.found == sum(self.by_action.values()) == sum(self.by_disposition.values()))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"leads": self.leads, "found": self.found, "not_found": self.not_found,
                "no_external_id": self.no_external_id, "newly_listed": self.newly_listed,
                "by_action": {a: self.by_action.get(a, 0) for a in ACTIONS},
                "by_disposition": [{"state": s, "disposition": d, "action": a, "leads": n}
                                   for (s, d, a), n in sorted(self.by_disposition.items())],
                "balanced": self.balanced()}


def sync_batch(prov: Provider, feedback: Feedback, mapping: ProviderMapping, leads: pd.DataFrame,
               sync_id: str, counts: SyncCounts, write_back: WriteBackTarget | None = None) -> pd.DataFrame:
    """Read, map and record the dispositions of ``leads`` (``phone_key``, ``external_id``, all with an id),
    in the ledger and, given a ``write_back`` target, in the write-back table (keyed by the external id).

    Returns:
        The found leads with their ``state``, ``disposition``, ``passes``, ``action`` and ``disposition_at``.
    """
    read = prov.read_dispositions(leads["external_id"].astype(str).tolist())
    merged = leads.merge(read, on="external_id", how="inner")
    merged["action"] = actions(mapping, merged["state"], merged["disposition"])
    # A lead without a time of its own (not dialed yet) has its disposition as of this sync.
    merged["disposition_at"] = merged["disposition_at"].fillna(pd.Timestamp(utcnow()))
    added = feedback.record(merged, provider=prov.name, account=prov.account, campaign=prov.campaign,
                            sync_id=sync_id)
    if write_back is not None and len(merged):
        upsert_rows(write_back, write_back_rows(merged, prov.name, prov.campaign))
    counts.leads += len(leads)
    counts.found += len(merged)
    counts.not_found += len(leads) - len(merged)
    counts.newly_listed += added
    counts.by_action.update(merged["action"].tolist())
    counts.by_disposition.update(zip(merged["state"].fillna("").tolist(), merged["disposition"].fillna("").tolist(),
                                     merged["action"].tolist(), strict=True))
    listed = merged[merged["action"].isin(("dnc", "bad_number"))].head(20 - len(counts.listed_examples))
    counts.listed_examples += [{"phone": mask_phone(f"+{k}"), "state": str(s), "action": str(a)}
                               for k, s, a in zip(listed["phone_key"], listed["state"].fillna(""), listed["action"],
                                                  strict=True)]
    return merged


def write_back_rows(found: pd.DataFrame, provider: str, campaign: str) -> pd.DataFrame:
    """The write-back columns of the found leads: the key (the external id is the source key) and the disposition."""
    at = pd.to_datetime(found["disposition_at"], utc=True)
    return pd.DataFrame({"source_key": found["external_id"].astype(str).to_numpy(), "provider": provider,
                         "campaign": campaign,
                         "disposition": disposition_text(found["state"], found["disposition"]).to_numpy(),
                         "disposition_at": at.to_numpy(), "disposition_action": found["action"].astype(str).to_numpy()})


def sync_markdown(provider: str, campaign: str, days: int, counts: SyncCounts) -> str:
    """The artifact of a sync: counts by action and by disposition for the campaign (no phone unmasked)."""
    lines = [f"# Dispositions of {provider} campaign {campaign}",
             f"Leads loaded in the last {days} days: **{counts.leads}**; the dialer has {counts.found}, "
             f"not found {counts.not_found}, without an external id {counts.no_external_id}. "
             f"Newly on the internal do-not-call list: {counts.newly_listed}. "
             f"Counts add up: {'yes' if counts.balanced() else 'NO'}.", "",
             "| action | leads |", "|---|---:|"]
    lines += [f"| {a} | {counts.by_action.get(a, 0)} |" for a in ACTIONS]
    lines += ["", "| state | disposition | action | leads |", "|---|---|---|---:|"]
    lines += [f"| {s or '-'} | {d or '-'} | {a} | {n} |" for (s, d, a), n in sorted(counts.by_disposition.items())]
    if counts.listed_examples:
        lines += ["", "Some phones suppressed from now on (masked):", "", "| phone | state | action |", "|---|---|---|"]
        lines += [f"| {e['phone']} | {e['state'] or '-'} | {e['action']} |" for e in counts.listed_examples]
    return "\n".join(lines) + "\n"
