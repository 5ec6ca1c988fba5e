"""Credentials come from the environment or from Prefect Secret blocks, and never show in a repr."""

from __future__ import annotations

import uuid

import pytest

from tasks.credentials import load_credentials

ENV = {"api_token": "ENGAGE_VOICE_API_TOKEN", "rc_access_token": "ENGAGE_VOICE_RC_ACCESS_TOKEN"}


def test_environment_wins_and_absent_variables_are_left_out(clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "env-token-123")
    creds = load_credentials(ENV)
    assert creds.get("api_token") == "env-token-123"
    assert creds.get("rc_access_token") is None
    assert "env-token-123" not in repr(creds) and "env-token-123" not in str(creds)


@pytest.mark.usefixtures("prefect_harness")
def test_a_secret_block_named_after_the_variable(clean_provider_env: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    variable = f"LEADFLOW_TEST_TOKEN_{uuid.uuid4().hex[:8].upper()}"
    names = {"token": variable, "absent": f"{variable}_ABSENT"}
    Secret(value="block-token-456").save(variable.lower().replace("_", "-"), overwrite=True)
    assert load_credentials(names).get("token") is None  # blocks are opt-in
    clean_provider_env.setenv("LEADFLOW_SECRET_BLOCKS", "1")
    creds = load_credentials(names)
    assert creds.get("token") == "block-token-456"
    assert creds.get("absent") is None
    clean_provider_env.setenv(variable, "env-wins-789")
    assert load_credentials(names).get("token") == "env-wins-789"
