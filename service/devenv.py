"""`make run` on a fresh clone: write a local `.env` with random webhook secrets, once.

Only for the local demo path; deployments set RELAY_* in their own environment.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

KEYS = (
    "RELAY_ZENDESK_WEBHOOK_SECRET",
    "RELAY_JIRA_WEBHOOK_SECRET",
    "RELAY_INTERCOM_CLIENT_SECRET",
    "RELAY_FRESHDESK_WEBHOOK_TOKEN",
    "RELAY_SESSION_SECRET",
)


def write_env(path: Path) -> bool:
    """Create `path` with fresh secrets unless it exists; True when written."""
    if path.exists():
        return False
    lines = ["# Local secrets for `make run`, generated once. Keep out of version control."]
    lines += [f"{key}={secrets.token_urlsafe(24)}" for key in KEYS]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_env(target):
        print(f"wrote {target} with generated webhook secrets")
