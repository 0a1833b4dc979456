"""The agent's last public reply: what FAQ generation and triage read as the answer that
solved a ticket."""

from __future__ import annotations

from typing import Any

from service.feedback.models import Feedback


def comment(body: str, *, role: str = "agent", public: bool = True, n: int = 1) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "body": body,
        "public": public,
        "author_role": role,
        "created_at": f"2026-11-0{n}T10:00:00+00:00",
    }


def test_the_last_public_agent_reply_is_read_and_notes_are_not() -> None:
    record = Feedback(
        comments=[
            comment("First answer", n=1),
            comment("Still failing", role="requester", n=2),
            comment("Internal: ask Engineering", public=False, n=3),
            comment("Second answer", n=4),
            comment("", n=5),  # an empty public comment (a status change) is no reply
        ]
    )
    assert record.last_agent_reply() == "Second answer"
    assert Feedback(comments=[comment("note", public=False)]).last_agent_reply() is None
    assert Feedback().last_agent_reply() is None  # not yet flushed: no comments list
