"""Dialer providers: the contract, one module per dialer, and the registry."""
