"""The escalation domain."""
