"""Process memory settings for a load run: malloc arenas and the cyclic garbage collector.

A run works on many threads (chunk tasks, their senders, the rules ahead, the recorder). glibc's
malloc gives each thread an arena of its own, up to eight per core, and freed memory stays in the
arena that held it: at 1M leads that kept about 200 MB more resident than two arenas do, at no
measurable cost in speed (``benchmarks/README.md``). Arrow allocates from its own pool, unaffected.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: glibc's ``mallopt`` parameter for the maximum number of arenas.
M_ARENA_MAX = -8
#: Arenas leadflow asks for unless ``MALLOC_ARENA_MAX`` is set.
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (unless ``MALLOC_ARENA_MAX`` already says how many).

    Best called before the run starts its threads. Elsewhere than Linux with glibc it does nothing.

    Returns:
        True if the cap was set here.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas) == 1)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects that exist when a run starts out of the garbage collector's passes until it ends.

    Modules and the state of Prefect, pydantic and pandas are long-lived; a full collection walks
    all of them each time it runs (at 1M leads: 8 full collections, 1.1 s of the run, holding the
    GIL). Frozen, they are skipped (``gc.freeze``); at the end they are handed back
    (``gc.unfreeze``), so a long-lived worker process frees what its runs left behind as before.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def collect_cycles() -> None:
    """Free what reference cycles made since the heap was frozen.

    A run makes few Python objects per lead, so the collector's own thresholds are reached seldom,
    while what cycles keep alive is large (a chunk task's result, held in a cycle by Prefect's task
    engine, refers to the chunk's batch frames): left to the thresholds, about 200 MB more were held
    at 1M leads. Called once per recorded chunk; with the heap frozen, a pass walks only the run's
    own objects (about 18 ms).
    """
    gc.collect()
