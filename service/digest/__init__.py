"""The digest domain."""
