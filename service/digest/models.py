"""Tables of the digest domain."""
