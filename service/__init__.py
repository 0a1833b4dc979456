"""Relay: the Customer Success service (HTTP, database, worker, domain logic)."""
