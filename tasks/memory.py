"""Process memory of a load run: malloc arenas, the cyclic garbage collector and task results.

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
from typing import TypeVar

from prefect.futures import PrefectFuture

R = TypeVar("R")

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


def taken(future: PrefectFuture[R], *, raise_on_failure: bool = True) -> R:
    """The result of a finished task, with the future's hold on it let go.

    Prefect's future and the thread pool's future refer to each other (a done callback), so a dropped
    future lives until a full collection, and with it its final state and the task's result. A run
    makes few Python objects per lead, so the collector's thresholds are reached seldom while what
    that cycle holds is large (a chunk's frames): at 1M leads about 200 MB more were resident, and a
    full collection per chunk cost 30-100 ms. Emptying the final state's data leaves the cycle
    holding nothing large, and the result is freed as soon as the caller drops it.
    """
    value = future.result(raise_on_failure=raise_on_failure)
    future.state.data = None
    return value
