"""NLPearl's 400 answers (ASP.NET ``ValidationProblemDetails``): which leads failed, and why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd

from schemas import columns as C
from schemas.outcomes import Outcome
from tasks.providers.base import result_frame

#: ``errors`` keys naming a lead by its index in the request: ``leads[3]``, ``Leads[3].PhoneNumber``,
#: ``$.leads[3].phoneNumber``. Inferred: the document says only that a 400 "may contain ... a list
#: of failed leads with their associated errors"; these are ASP.NET Core's key styles.
LEAD_KEY = r"^(?:\$\.)?leads\[(\d+)\](?:\.(.+))?$"


@dataclass(frozen=True)
class LeadProblem:
    """A problem body split into per-lead messages and messages about the whole request."""

    title: str
    #: Messages per lead index (position in the request), e.g. ``phoneNumber: ... is required.``.
    per_lead: dict[int, str] = field(default_factory=dict)
    #: Messages not tied to a lead (``$``, ``leads``), or to an index outside the request.
    general: list[str] = field(default_factory=list)

    def summary(self, limit: int = 300) -> str:
        """The title and the request-level messages, for an exception message."""
        text = "; ".join([self.title, *self.general]) if self.general else self.title
        return text[:limit]


def lead_problem(response: httpx.Response, size: int | None,
                 key_pattern: str = LEAD_KEY) -> LeadProblem | None:
    """The problem of a 400 answer to a request of ``size`` leads; None if the body is not one.

    Args:
        response: the answer (its body is read here).
        size: how many leads the request carried (None: any index counts as a lead).
        key_pattern: regex of the ``errors`` keys naming a lead (case-insensitive); group 1 is
            the lead's index and the optional group 2 the field.
    """
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    problem = LeadProblem(title=str(body.get("title") or body.get("detail") or "invalid request"))
    if not isinstance(errors, dict):
        return problem
    key_re = re.compile(key_pattern, re.IGNORECASE)
    per_lead: dict[int, list[str]] = {}
    for key, value in errors.items():
        messages = [str(m) for m in value] if isinstance(value, list) else [str(value)]
        match = key_re.match(str(key))
        if match is None or (size is not None and int(match.group(1)) >= size):
            problem.general.append(f"{key}: {' '.join(messages)}")
            continue
        what = match.group(2) if match.lastindex and match.lastindex >= 2 else None
        per_lead.setdefault(int(match.group(1)), []).extend(f"{what}: {m}" if what else m for m in messages)
    problem.per_lead.update({i: "; ".join(ms) for i, ms in per_lead.items()})
    return problem


#: Outcome of a lead to send again: it stays ``sending`` in the ledger.
UNSETTLED = "sending"
CONFIRMED = "confirmed: already in the Pearl after an unanswered request"
FOUND = "confirmed by lookup after a 400 answer"
INFERRED = "inferred: the other leads of the 400 answer were stored (no externalId to look up)"
SENT_AGAIN = "not stored: the request failed for other leads; sent again"
UNKNOWN = "fate unknown after a 400 answer (no externalId to look up)"


def settle_problem(batch: pd.DataFrame, problem: LeadProblem, found: pd.Series, duplicate_text: str) -> pd.DataFrame:
    """Per-lead outcomes after a 400 that names some leads.

    Named leads are rejected (``duplicate`` when the message says the lead exists: for a lead
    sent again after an unanswered request, the provider's ``resend`` rule makes that
    ``loaded``). The others were looked up by external id: found ones are loaded; missing ones
    are rejected when the problem also refused the whole request, else sent again
    (``UNSETTLED``). Leads without an external id follow the looked-up ones: all found ->
    loaded, none found -> sent again, mixed or none looked up -> failed.

    Args:
        batch: the leads as sent, in request order.
        problem: the parsed answer.
        found: per lead, whether a lookup found it (False where not looked up).
        duplicate_text: text of a per-lead message meaning "already exists" (case-insensitive).

    Returns:
        ``row``, ``outcome``, ``reason`` per lead.
    """
    n = len(batch)
    named = pd.Series(pd.NA, index=range(n), dtype="string")
    if problem.per_lead:
        named.iloc[list(problem.per_lead)] = list(problem.per_lead.values())
    is_named = named.notna().to_numpy()
    is_dup = named.str.contains(duplicate_text, case=False, regex=False).fillna(False).to_numpy(dtype=bool)
    has_id = (batch[C.EXTERNAL_ID].notna() if C.EXTERNAL_ID in batch else pd.Series(False, index=batch.index))
    has_id_a, found_a = has_id.to_numpy(dtype=bool), found.to_numpy(dtype=bool)
    looked = ~is_named & has_id_a
    hits, tried = int(found_a[looked].sum()), int(looked.sum())
    for_no_id: tuple[str, str] = (Outcome.FAILED, UNKNOWN)
    if tried and hits == tried:
        for_no_id = (Outcome.LOADED, INFERRED)
    elif tried and not hits:
        for_no_id = (UNSETTLED, SENT_AGAIN)
    general = f"nlpearl: request refused: {problem.summary()}"
    choices = [
        (is_dup, Outcome.DUPLICATE, None),
        (is_named, Outcome.REJECTED, None),
        (found_a, Outcome.LOADED, FOUND),
        (np.full(n, bool(problem.general)), Outcome.REJECTED, general),
        (has_id_a, UNSETTLED, SENT_AGAIN),
    ]
    outcome = np.select([c for c, _, _ in choices], [o for _, o, _ in choices], default=for_no_id[0])
    text = ("nlpearl: " + named).to_numpy(dtype=object)
    reason = np.select([c for c, _, _ in choices], [text if r is None else r for _, _, r in choices],
                       default=for_no_id[1])
    return result_frame(batch, pd.Series(outcome), pd.Series(reason, dtype="string"))
