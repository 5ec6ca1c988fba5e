"""The malloc arena cap a load run sets on itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import memory

_PROBE = """
import ctypes, sys, threading
from tasks.memory import limit_malloc_arenas
print(limit_malloc_arenas())
together = threading.Barrier(12)
def churn():  # twelve threads alive at once, each allocating: glibc gives each its own arena, up to the cap
    together.wait()
    blocks = [ctypes.create_string_buffer(2_000) for _ in range(200)]
    together.wait()
    del blocks
threads = [threading.Thread(target=churn) for _ in range(12)]
[t.start() for t in threads]; [t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
f = libc.fopen(sys.argv[1].encode(), b"w"); libc.malloc_info(0, f); libc.fclose(ctypes.c_void_p(f))
"""


def _arenas(tmp_path: Path, env: dict[str, str]) -> tuple[str, int]:
    info = tmp_path / "malloc.xml"
    out = subprocess.run([sys.executable, "-c", _PROBE, str(info)], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip(), info.read_text().count("<heap nr=")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_a_run_caps_its_malloc_arenas(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    said, capped = _arenas(tmp_path, env)
    assert said == "True"
    assert capped <= memory.ARENAS
    # The setting a deployment gives wins, and is left alone.
    said, preset = _arenas(tmp_path, {**env, "MALLOC_ARENA_MAX": "8"})
    assert said == "False"
    assert preset > memory.ARENAS  # twelve threads allocating at once: without the cap they spread out


def test_not_set_when_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_malloc_arenas() is False


def test_a_run_freezes_the_heap_it_starts_with_and_hands_it_back() -> None:
    import gc

    assert gc.get_freeze_count() == 0
    before = [object()]
    with memory.frozen_heap():
        during = [object()]
        tracked = gc.get_objects()  # the generations a collection walks (not the frozen objects)
        assert gc.get_freeze_count() > 0
        assert not any(o is before for o in tracked) and any(o is during for o in tracked)
        del tracked
    assert gc.get_freeze_count() == 0
    assert any(o is before for o in gc.get_objects())
    # After a failure too.
    with pytest.raises(RuntimeError), memory.frozen_heap():
        raise RuntimeError("the run broke")
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("prefect_harness")
def test_taken_lets_a_task_result_go_when_the_caller_drops_it() -> None:
    """A chunk task's result is freed as soon as the flow drops it, with no garbage collection: Prefect's
    futures keep their final state in a reference cycle, which ``taken`` empties."""
    import gc
    import time
    import weakref

    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    class Frame:
        """Stands for a chunk's frame (weakly referable)."""

    made: list[weakref.ref[Frame]] = []

    @task(cache_policy=NO_CACHE)
    def chunk_task() -> list[Frame]:
        frame = Frame()
        made.append(weakref.ref(frame))
        return [frame]

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def run(take_with: str) -> bool:
        future = chunk_task.submit()
        if take_with == "result":  # what ``taken`` empties: the final state holds the result
            result = future.result()
            return future.state.data is not None and result[0] is made[-1]()
        result = memory.taken(future)
        assert isinstance(result[0], Frame)
        del result, future
        # The task's engine lets go of its own references once it has reported the end (later on a busy machine).
        deadline = time.monotonic() + 10.0
        while made[-1]() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        return made[-1]() is None

    enabled = gc.isenabled()
    gc.disable()  # only reference counting may free the frame
    try:
        assert run("taken")
        # The control checks the hold itself: whether the frame outlives a dropped future without ``taken``
        # also depends on timing (the cycle forms only if the task was still running when its future was
        # made) and on anything in the process running a collection meanwhile.
        assert run("result")
    finally:
        if enabled:
            gc.enable()
