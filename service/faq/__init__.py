"""The faq domain."""
