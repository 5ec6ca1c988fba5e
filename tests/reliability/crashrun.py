"""Run one load in this process (a subprocess of a crash test): ``python crashrun.py '<json>'``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from relhelp import run_options

from flows.load_leads import load_leads
from schemas.sources import SourceSpec


def main(spec: dict[str, object]) -> None:
    """Load ``spec["source"]`` into ``spec["provider"]`` with the test options."""
    opts = run_options(Path(str(spec["tmp"])), str(spec["base_url"]), name=str(spec["name"]),
                       batch_size=int(str(spec["batch_size"])), concurrency=1,
                       provider_options=dict(spec.get("provider_options") or {}))  # type: ignore[call-overload]
    load_leads(source=SourceSpec(location=str(spec["source"])), provider=str(spec["provider"]),
               campaign=str(spec["campaign"]), options=opts)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
