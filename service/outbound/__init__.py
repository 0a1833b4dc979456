"""The outbound domain."""
