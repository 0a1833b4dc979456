"""Word tokens as scikit-learn's default `token_pattern` finds them, found faster.

Its pattern, `(?u)\\b\\w\\w+\\b`, finds the same tokens as `\\w\\w+`: a match of `\\w\\w+` runs to
the end of its word, and a search only resumes inside a word after the word's first
letter failed, which happens only when the word is one letter long. The leading `\\b` just
made the engine try a match at every position instead of skipping to a word character.
(No scikit-learn import: the API process imports the theme code without needing it.)
"""

from __future__ import annotations

import re

SCIKIT_LEARN_PATTERN = r"(?u)\b\w\w+\b"  # what the vectorizers' `token_pattern` must be
TOKEN = re.compile(r"\w\w+")


def tokens(text: str) -> list[str]:
    """The tokens scikit-learn's default word tokenizer finds in `text`, in order."""
    return TOKEN.findall(text)
