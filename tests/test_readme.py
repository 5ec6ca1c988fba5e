"""The README's commands run as written; every leadflow and make command in the docs parses.

The deployment and trigger blocks run in tests/orchestration (they need a server): the stack fixture
runs the README's ``prefect`` lines, and the trigger test posts the README's ``curl`` event.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from docblocks import REPO, commands, documented_commands, readme_block

from flows.cli import build_parser


@pytest.mark.slow  # the block's commands in a shell: simulators, a run, a report
@pytest.mark.usefixtures("prefect_harness")
def test_the_command_line_block_runs_as_written(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL

    block = readme_block("leadflow run")
    for name in (".venv", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "100"}
    # The block as written, with the background simulators stopped when it ends.
    script = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{block}"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "engage-voice campaign 4001" in done.stdout
    assert "report:" in done.stdout and "outcomes:" in done.stdout
    assert "completed" in done.stdout.rsplit("report:", 1)[-1]  # `leadflow report` lists the run
    assert "Traceback" not in done.stderr


def test_every_leadflow_command_in_the_docs_parses() -> None:
    found = documented_commands("leadflow")
    assert len(found) >= 3, found
    parser = build_parser()
    for where, argv in found:
        try:
            parser.parse_args(argv)
        except SystemExit as ex:
            pytest.fail(f"{where}: leadflow {' '.join(argv)} does not parse ({ex})")


def test_every_make_target_in_the_docs_exists() -> None:
    makefile = (REPO / "Makefile").read_text()
    for where, argv in documented_commands("make"):
        assert argv and f"\n{argv[0]}:" in f"\n{makefile}", f"{where}: make {' '.join(argv)}"


def test_the_readme_blocks_are_the_ones_the_server_tests_run() -> None:
    deploy = commands(readme_block("prefect deploy --all"))
    assert "prefect deploy --all" in deploy
    assert deploy[-1] == "prefect worker start --pool leadflow-pool"
    assert "curl -X POST" in readme_block("leadflow.source.landed")


def test_the_readme_stays_short() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) < 150
