"""The exports domain."""
