"""Worker handlers of the faq domain (registered with service.worker.registry)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from integrations.zendesk.help_center import HelpCenterClient
from service.config import Settings
from service.faq import markdown as faq_markdown
from service.faq import service as faq_service
from service.faq.rewrite import rewriter_from
from service.inbox.models import InboxEvent
from service.worker import jobs
from service.worker.context import worker_settings
from service.worker.registry import PermanentFailure, task


@task(faq_service.GENERATE_TASK)
def generate(session: Session, event: InboxEvent) -> str:
    """Draft or refresh the entries of qualifying themes (all, or the payload's theme_ids)."""
    settings = worker_settings()
    theme_ids = jobs.payload_of(event).get("theme_ids")
    report = faq_service.generate(
        session, settings=settings, theme_ids=theme_ids, rewrite=rewriter_from(settings)
    )
    return (
        f"faq: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )


@task(faq_service.HELP_CENTER_TASK)
def publish_to_help_center(session: Session, event: InboxEvent) -> str:
    """Create the entry's Help Center article, or update the one it already has."""
    settings = worker_settings()
    payload = jobs.payload_of(event)
    entry = faq_service.get(session, faq_id=str(payload["faq_id"]))
    if entry.published_version != payload["version"]:
        return f"faq {entry.id}: version {payload['version']} no longer published; skipped"
    if not faq_service.help_center_configured(settings):
        raise PermanentFailure("the Zendesk Help Center is not configured")
    text = faq_service.version(session, faq_id=entry.id, number=entry.published_version)
    client = _client(settings)
    try:
        html = faq_markdown.html(text.body)
        if entry.help_center_article_id:
            article = client.update_article(
                entry.help_center_article_id, title=text.question, body_html=html
            )
        else:
            article = client.create_article(
                section_id=int(settings.zendesk_help_center_section_id or 0),
                title=text.question,
                body_html=html,
                label=f"relay-{entry.id}",
                permission_group_id=settings.zendesk_help_center_permission_group_id,
            )
    finally:  # a HelpCenterError propagates: the worker retries with backoff
        client.close()
    entry.help_center_article_id = article.id
    entry.help_center_url = article.html_url or entry.help_center_url
    return f"faq {entry.id} v{text.number}: Help Center article {article.id}"


def _client(settings: Settings) -> HelpCenterClient:
    token = settings.zendesk_api_token.get_secret_value() if settings.zendesk_api_token else ""
    return HelpCenterClient(
        str(settings.zendesk_url),
        email=str(settings.zendesk_email),
        api_token=token,
        locale=settings.zendesk_help_center_locale,
    )
