"""Tables of the escalation domain."""
