"""Themes: recurring merchant problems, matched incrementally and ranked by impact."""
