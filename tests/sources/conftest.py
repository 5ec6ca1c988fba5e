"""Fixtures for the source tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def leads_csv(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(
        "Lead ID,First Name,Phone Number,Notes\n"
        "1, Ann ,555-0101,vip\n"
        "2,Bob,,\n"
        "3,Cy,555-0103,\n"
        "4,Di,555-0104,late\n"
        "5,Ed,555-0105,\n",
        encoding="utf-8",
    )
    return path
