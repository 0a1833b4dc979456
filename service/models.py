"""Imports every domain's models so that Alembic and `create_all` see one metadata."""

from service.auth import models as auth_models
from service.db import Base
from service.feedback import models as feedback_models
from service.inbox import models as inbox_models
from service.themes import models as themes_models

__all__ = ["Base", "auth_models", "feedback_models", "inbox_models", "themes_models"]
