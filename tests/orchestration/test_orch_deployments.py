"""prefect.yaml on a real server (PostgreSQL): every deployment kind, run by a real process worker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import httpx
import pandas as pd
import pytest
from docblocks import readme_block
from orchhelp import EXPECTED, LEADS, REPO, WAIT_S, Stack, seed_crm, wait_for, write_leads

pytestmark = [pytest.mark.server, pytest.mark.slow]


def outcomes(stack: Stack, run_id: str) -> dict[str, int]:
    counts = stack.ledger_run(run_id)["outcomes"]
    return {k: v for k, v in counts.items() if v}


def triggered_run(stack: Stack, deployment: str, location: str) -> dict[str, Any]:
    dep = stack.deployment(deployment)
    return wait_for(lambda: next((r for r in stack.runs_of(dep["id"])  # type: ignore[no-any-return]
                                  if r["parameters"].get("source", {}).get("location") == location), None),
                    f"a run of {deployment} for {location}")


def test_every_deployment_kind_is_on_the_server(stack: Stack) -> None:
    nightly = stack.deployment("engage-4001-nightly")
    schedule = nightly["schedules"][0]["schedule"]
    assert (schedule["cron"], schedule["timezone"]) == ("0 2 * * *", "America/New_York")
    assert (nightly["work_pool_name"], nightly["work_queue_name"]) == ("leadflow-pool", "engage-voice-4001")
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert nightly["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert nightly["parameters"]["source"]["location"] == "${LEADFLOW_CRM_URL}"
    assert nightly["entrypoint"] == "flows.load_leads.load_leads"

    adhoc = stack.deployment("adhoc")
    schema = adhoc["parameter_openapi_schema"]
    assert adhoc["enforce_parameter_schema"] is True
    assert set(schema["required"]) == {"source", "provider", "campaign"}
    assert {"source", "provider", "campaign", "account", "options"} <= set(schema["properties"])
    assert {"SourceSpec", "RunOptions", "RuleOptions", "LoadOptions"} <= set(schema["definitions"])
    assert schema["properties"]["provider"]["enum"] == ["engage-voice", "nlpearl", "voiso"]
    assert "default" in schema["properties"]["options"] and "anyOf" not in schema["properties"]["options"]
    dnc = str(stack.home / "dnc.txt")
    assert adhoc["parameters"] == {"options": {"rules": {"dnc_files": [dnc]}, "load": {"lease_wait_s": 3600}}}
    assert adhoc["global_concurrency_limit"] is None  # one run per campaign comes from the campaign's lease
    assert nightly["parameters"]["options"] == {"rules": {"dnc_files": [dnc]}, "write_back": "leadflow_outcomes"}
    assert "write_back" in schema["definitions"]["RunOptions"]["properties"]  # a field of the run form

    on_landing = stack.deployment("engage-4001-on-landing")
    [automation] = stack.get(f"/automations/related-to/prefect.deployment.{on_landing['id']}")
    trigger, [action] = automation["trigger"], automation["actions"]
    assert trigger["expect"] == ["leadflow.source.landed"]
    assert trigger["match"] == {"prefect.resource.id": f"leadflow.source.{stack.landing}/engage-voice/4001/*",
                                "leadflow.source.kind": "file"}
    assert (action["type"], action["deployment_id"]) == ("run-deployment", on_landing["id"])
    assert action["parameters"]["source"]["location"] == "{{ event.payload.location }}"

    on_rows = stack.deployment("engage-4001-on-new-rows")
    [automation] = stack.get(f"/automations/related-to/prefect.deployment.{on_rows['id']}")
    crm = "leadflow.source.${LEADFLOW_CRM_URL}#table=crm_leads"
    assert automation["trigger"]["match"]["prefect.resource.id"] == crm

    sensors = [stack.deployment("watch-landing", "watch-landing"),
               stack.deployment("sense-crm-leads", "sense-new-rows")]
    assert [d["work_queue_name"] for d in sensors] == ["sensors", "sensors"]
    assert sensors[0]["parameters"]["directory"] == str(stack.landing)
    assert [d["schedules"][0]["schedule"]["interval"] for d in sensors] == [60.0, 300.0]

    hold = stack.deployment("hold-on-high-rejection", "hold-campaign")
    [automation] = stack.get(f"/automations/related-to/prefect.deployment.{hold['id']}")
    assert automation["trigger"]["expect"] == ["leadflow.run.completed"]
    assert automation["actions"][0]["parameters"]["campaign"] == "{{ event.resource['leadflow.campaign'] }}"
    assert (hold["work_queue_name"], hold["schedules"]) == ("control", [])

    dask = stack.deployment("adhoc-dask", "load-leads-dask")
    assert dask["entrypoint"] == "flows.scale.load_leads_dask"
    assert dask["parameter_openapi_schema"]["required"] == schema["required"]


def test_adhoc_run_with_typed_parameters(stack: Stack, tmp_path: Any) -> None:
    path = write_leads(tmp_path / "adhoc.csv")
    params = {"source": {"location": str(path)}, "provider": "engage-voice", "campaign": "4003",
              "options": {"output_dir": str(tmp_path / "out"), "write_back": "lead_outcomes"}}
    created = stack.prefect("deployment", "run", "load-leads/adhoc", "--params", json.dumps(params))
    found = re.search(r"UUID:\s+([0-9a-f-]{36})", created.stdout)
    assert found, created.stdout
    run_id = found[1]

    run = stack.finished(run_id)

    assert run["parameters"] == params
    assert outcomes(stack, run_id) == EXPECTED
    assert (tmp_path / "out" / run_id / "report.json").exists()
    written = pd.read_csv(tmp_path / "lead_outcomes.csv", dtype=str)  # the write-back, beside the file
    assert len(written) == len(LEADS) and Counter(written["outcome"]) == EXPECTED


def test_adhoc_run_rejects_parameters_that_do_not_fit_the_schema(api_settings: Stack) -> None:
    stack = api_settings
    adhoc = stack.deployment("adhoc")
    response = httpx.post(f"{stack.api}/deployments/{adhoc['id']}/create_flow_run", timeout=30,
                          json={"parameters": {"source": {"location": "x.csv"}, "provider": "engage-voice"}})

    assert response.status_code == 409
    assert "campaign" in response.text


def test_a_landed_file_triggers_its_campaign_deployment(stack: Stack) -> None:
    path = write_leads(stack.landing / "engage-voice" / "4001" / "monday.csv")
    write_leads(stack.landing / "engage-voice" / "4001" / "still-copying.csv", age_s=0)
    watcher = subprocess.run([sys.executable, "-m", "flows.cli", "watch", str(stack.landing), "--pattern", "*/*/*.csv",
                              "--stable-seconds", "30", "--once"], cwd=REPO, env=stack.env, capture_output=True,
                             text=True, timeout=WAIT_S, check=False)
    assert watcher.returncode == 0, watcher.stderr
    assert "monday.csv" in watcher.stdout
    assert "still-copying" not in watcher.stdout

    run = triggered_run(stack, "engage-4001-on-landing", str(path))
    stack.finished(run["id"])

    assert run["parameters"] == {"provider": "engage-voice", "campaign": "4001",
                                 "source": {"location": str(path), "format": "csv"},
                                 "options": {"rules": {"dnc_files": [str(stack.home / "dnc.txt")]}}}
    assert outcomes(stack, run["id"]) == EXPECTED


def test_an_upstream_system_posts_the_event_to_the_api(stack: Stack) -> None:
    path = write_leads(stack.landing / "engage-voice" / "4001" / "leads.csv")

    stack.shell(readme_block("leadflow.source.landed"))  # the README's curl, as written

    run = triggered_run(stack, "engage-4001-on-landing", str(path))
    assert run["parameters"]["source"] == {"location": str(path), "format": "csv"}
    stack.finished(run["id"])
    counts = outcomes(stack, run["id"])
    assert counts.get("loaded", 0) + counts.get("duplicate", 0) == len(LEADS) - EXPECTED["invalid"]
    assert counts["invalid"] == EXPECTED["invalid"]


def test_campaigns_run_in_parallel_and_one_campaign_one_run_at_a_time(api_settings: Stack) -> None:
    from prefect.deployments import run_deployment

    stack = api_settings
    seed_crm(stack.crm_url)
    # The first two load requests are held 8 s, so a campaign's run outlasts the few seconds the worker
    # may take to start the other campaign's process on a busy machine (3 s was sometimes too short).
    httpx.post(f"{stack.sim_url}/_sim/faults", json={"plan": [{"delay_s": 8, "times": 2}]}, timeout=10)

    first = run_deployment("load-leads/engage-4001-nightly", timeout=0)
    second = run_deployment("load-leads/engage-4001-nightly", timeout=0)
    other = run_deployment("load-leads/engage-4002-nightly", timeout=0)
    runs = [stack.finished(str(r.id)) for r in (first, second, other)]

    a, b = sorted(runs[:2], key=lambda r: r["start_time"])
    c = runs[2]
    assert b["start_time"] >= a["end_time"], "a campaign's second run started before its first ended"
    overlap = min(a["end_time"], c["end_time"]) > max(a["start_time"], c["start_time"])
    spans = [(r["start_time"], r["end_time"]) for r in (a, c)]
    assert overlap, f"the two campaigns did not run at the same time: {spans}"
    assert stack.ledger_run(a["id"])["rows_read"] == len(LEADS)
    assert stack.ledger_run(b["id"])["rows_read"] == 0
    assert stack.ledger_run(c["id"])["rows_read"] == len(LEADS)
    assert outcomes(stack, c["id"]) == EXPECTED


def test_the_sensor_triggers_a_load_of_new_rows_and_then_goes_quiet(api_settings: Stack,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.watch import sense_new_rows

    stack = api_settings
    seed_crm(stack.crm_url, {"id": "L9", "n": "Margaret", "p": "303-492-1411", "s": "CO", "z": "80309", "u": 1000})
    monkeypatch.setenv("LEADFLOW_CRM_URL", stack.crm_url)
    state = stack.home / "sensor-state.json"

    def sense() -> dict[str, Any] | None:
        return sense_new_rows("${LEADFLOW_CRM_URL}", "crm_leads", "updated_at", campaign="4001",
                              ledger_url=stack.ledger_url, state_file=state, resignal_after_s=0)

    signal = sense()
    assert signal is not None
    assert signal["newest"] == "1000"
    dep = stack.deployment("engage-4001-on-new-rows")
    [run] = wait_for(lambda: stack.runs_of(dep["id"]), "the sensor's triggered run")
    stack.finished(run["id"])

    assert run["parameters"]["source"]["location"] == "${LEADFLOW_CRM_URL}"
    assert stack.ledger_run(run["id"])["rows_read"] >= 1
    assert sense() is None



def _phones_csv(path: Any, first: int) -> str:
    """Four leads with phones no other test loads (ledger dedup is shared by the whole session)."""
    rows = "".join(f"A{first + i},Pat,415-867-{first + i:04d},CA,94105\n" for i in range(4))
    path.write_text("Lead ID,First Name,Phone Number,State,ZIP\n" + rows)
    return str(path)


def test_adhoc_loads_wait_only_for_their_own_campaign(api_settings: Stack, tmp_path: Any) -> None:
    from prefect.deployments import run_deployment

    stack = api_settings
    same, other = _phones_csv(tmp_path / "same.csv", 3101), _phones_csv(tmp_path / "other.csv", 3201)
    httpx.post(f"{stack.sim_url}/_sim/faults", json={"plan": [{"delay_s": 3, "times": 4}]}, timeout=10)

    started = [run_deployment("load-leads/adhoc", timeout=0, parameters={
        "source": {"location": location}, "provider": "engage-voice", "campaign": campaign})
        for location, campaign in ((same, "4003"), (same, "4003"), (other, "4002"))]
    runs = [stack.finished(str(r.id)) for r in started]

    first, second = sorted(runs[:2], key=lambda r: outcomes(stack, r["id"]).get("loaded", 0), reverse=True)
    assert outcomes(stack, first["id"]) == {"loaded": 4}
    assert outcomes(stack, second["id"]) == {"duplicate": 4}, "the second load of 4003 did not wait for the first"
    assert outcomes(stack, runs[2]["id"]) == {"loaded": 4}
    ran_together = min(first["end_time"], runs[2]["end_time"]) > max(first["start_time"], runs[2]["start_time"])
    assert ran_together, "ad-hoc loads of two campaigns waited for each other"
