"""Tables of the faq domain."""
