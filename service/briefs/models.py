"""Tables of the briefs domain."""
