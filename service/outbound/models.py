"""Tables of the outbound domain."""
