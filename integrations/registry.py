"""The inbound vendors by name, as the service's webhook routes look them up."""

from integrations import freshdesk, intercom, jira, zendesk
from integrations.contracts import WebhookSource

SOURCES: dict[str, WebhookSource] = {
    "zendesk": zendesk.SOURCE,
    "jira": jira.SOURCE,
    "intercom": intercom.SOURCE,
    "freshdesk": freshdesk.SOURCE,
}
