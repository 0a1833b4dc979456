"""Fake vendor servers that speak real HTTP on loopback (see `tests.fakes.server`)."""
