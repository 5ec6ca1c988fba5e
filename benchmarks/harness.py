"""What every measurement of the benchmark uses: generated data sets and one fresh process per measurement."""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
from pathlib import Path
from queue import Empty
from typing import Any

OUT = Path(__file__).parent / "out"


def dataset(rows: int, seed: int, folder: Path = OUT) -> tuple[Path, Path]:
    """The generated leads CSV and its DNC file for ``rows`` and ``seed``, cached in ``folder``."""
    from benchmarks.generate import write_leads

    folder.mkdir(parents=True, exist_ok=True)
    csv_path, dnc_path = folder / f"leads-{rows}-s{seed}.csv", folder / f"dnc-{rows}-s{seed}.txt"
    if not (csv_path.exists() and dnc_path.exists()):
        part_csv, part_dnc = csv_path.with_suffix(".part"), dnc_path.with_suffix(".part")
        write_leads(part_csv, rows, seed=seed, dnc=part_dnc, dnc_rate=0.02)
        part_dnc.replace(dnc_path)
        part_csv.replace(csv_path)
    return csv_path, dnc_path


def _child(target: str, args: tuple[Any, ...], kwargs: dict[str, Any], queue: mp.Queue[dict[str, Any]]) -> None:
    module, name = target.rsplit(".", 1)
    try:
        result = dict(getattr(importlib.import_module(module), name)(*args, **kwargs))
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(peak_rss_mb=usage.ru_maxrss / 1024, cpu_s=usage.ru_utime + usage.ru_stime)
    queue.put(result)


def in_child(target: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run ``module.function(*args, **kwargs)`` in a fresh process; its result, ``peak_rss_mb`` and ``cpu_s``.

    Raises:
        RuntimeError: the function raised (the message names the exception) or the process died.
    """
    ctx = mp.get_context("spawn")
    queue: mp.Queue[dict[str, Any]] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, kwargs, queue), name=target)
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{target} died (exit code {proc.exitcode})") from None
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{target} failed: {result['error']}")
    return result
