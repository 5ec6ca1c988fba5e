"""Data contracts: the canonical lead columns, pandera models and pydantic run options."""
