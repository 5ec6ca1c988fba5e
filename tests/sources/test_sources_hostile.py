"""Hostile sources and surroundings that need more than the corpus gives: memory, time, other processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from tasks.ledger_file import check_sqlite_ledger
from tasks.spool import OWNER, Spool, remove_dead_spools

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)


@pytest.mark.slow
def test_a_small_zip_holding_a_1_gib_line_is_refused_fast_and_in_little_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "leads.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("leads.csv", "w") as member:
        member.write(b"Phone,Note\n")
        for _ in range(1024):
            member.write(b"x" * (1 << 20))
    assert bomb.stat().st_size < 2 << 20
    probe = """
        import json, resource, sys, time
        from schemas.sources import SourceSpec
        from tasks.sources import SourceError, open_source
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            list(open_source(SourceSpec(location=sys.argv[1])))
            error = None
        except SourceError as exc:
            error = str(exc)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(json.dumps({"error": error, "seconds": time.perf_counter() - start, "grown_kib": grown}))
    """
    done = _python(probe, str(bomb))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["error"] == (f"{bomb}, row 1: a line longer than 16,777,216 characters; "
                               "LEADFLOW_MAX_RECORD_CHARS raises the bound")
    assert result["grown_kib"] < 300 * 1024, result  # the line is 1 GiB; 16 MiB of it are read
    assert result["seconds"] < 20, result  # a bound, not a speed target: unbounded took a minute


def test_a_named_pipe_nobody_writes_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "leads.csv")
    done = _python("""
        import sys
        from schemas.sources import SourceSpec
        from tasks.sources import SourceError, open_source
        try:
            open_source(SourceSpec(location=sys.argv[1]))
        except SourceError as exc:
            print(exc)
    """, str(tmp_path / "leads.csv"))
    assert done.stdout.strip() == f"{tmp_path / 'leads.csv'}: not a regular file (a named pipe)"


_MAKE_SPOOL = """
    import os, sys
    from tasks.spool import Spool
    spool = Spool(sys.argv[1])
    spool.path.joinpath("raw-00000.arrow").write_bytes(b"lead data")
    print(spool.path, flush=True)
    if sys.argv[2] == "die":
        os._exit(9)  # killed: no cleanup runs
    sys.stdin.readline()
"""


def test_the_spool_of_a_killed_run_is_removed_by_the_next_run_and_a_live_one_kept(tmp_path: Path) -> None:
    dead = Path(_python(_MAKE_SPOOL, str(tmp_path), "die").stdout.strip())
    assert (dead / "raw-00000.arrow").exists()
    live = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_MAKE_SPOOL), str(tmp_path), "live"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout is not None and live.stdin is not None
        alive = Path(live.stdout.readline().strip())
        spool = Spool(str(tmp_path))
        assert not dead.exists()
        assert (alive / "raw-00000.arrow").exists()
        assert remove_dead_spools(str(tmp_path)) == []
        spool.cleanup()
        live.stdin.write("\n")
        live.stdin.close()
        live.wait(timeout=30)
    finally:
        live.kill()
    assert remove_dead_spools(str(tmp_path)) == [alive]
    assert list(tmp_path.iterdir()) == []


def test_a_spool_is_owned_from_its_first_moment_and_pickles_without_its_lock(tmp_path: Path) -> None:
    import pickle

    spool = Spool(str(tmp_path))
    try:
        assert (spool.path / OWNER).exists()
        assert remove_dead_spools(str(tmp_path)) == []
        copy = pickle.loads(pickle.dumps(spool))
        assert copy.path == spool.path
    finally:
        spool.cleanup()
    assert not spool.path.exists()


_HOLD_LOCK = """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("begin exclusive")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("rollback")
"""


def _ledger(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("create table lf_runs (run_id text)")
    return path


@pytest.mark.parametrize(("hold_s", "refused"), [(30.0, True), (0.5, False)])
def test_a_locked_ledger_is_waited_for_then_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    hold_s: float, refused: bool) -> None:
    ledger = _ledger(tmp_path / "ledger.db")
    monkeypatch.setenv("LEADFLOW_LEDGER_WAIT_S", "2")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_HOLD_LOCK), str(ledger), str(hold_s)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        if refused:
            with pytest.raises(ConfigurationError) as info:
                check_sqlite_ledger(ledger)
            assert str(info.value) == (f"the ledger {ledger} is locked by another process (waited 2 s; "
                                       "LEADFLOW_LEDGER_WAIT_S sets how long)")
        else:
            check_sqlite_ledger(ledger)
    finally:
        holder.kill()
        holder.wait()


def test_an_empty_ledger_being_created_by_another_run_is_given_time(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(b"")
    filler = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sqlite3, sys, time
        time.sleep(0.5)
        with sqlite3.connect(sys.argv[1]) as conn:
            conn.execute("create table lf_runs (run_id text)")
    """), str(ledger)])
    try:
        check_sqlite_ledger(ledger)
    finally:
        filler.wait(timeout=30)
