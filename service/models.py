"""Imports every domain's models so that Alembic and `create_all` see one metadata."""

from service.auth import models as auth_models
from service.briefs import models as briefs_models
from service.db import Base
from service.digest import models as digest_models
from service.escalation import models as escalation_models
from service.exports import models as exports_models
from service.faq import models as faq_models
from service.feedback import models as feedback_models
from service.inbox import models as inbox_models
from service.outbound import models as outbound_models
from service.themes import models as themes_models

__all__ = [
    "Base",
    "auth_models",
    "briefs_models",
    "digest_models",
    "escalation_models",
    "exports_models",
    "faq_models",
    "feedback_models",
    "inbox_models",
    "outbound_models",
    "themes_models",
]
