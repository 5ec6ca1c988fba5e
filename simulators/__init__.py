"""Local HTTP twins of the dialer APIs, for the demo, tests and benchmarks."""
