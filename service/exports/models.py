"""Tables of the exports domain."""
