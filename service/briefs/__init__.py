"""The briefs domain."""
