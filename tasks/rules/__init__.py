"""Pure, vectorized lead rules over DataFrames: phones, dedup, DNC, time zones, windows."""
