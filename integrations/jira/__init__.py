"""Jira inbound webhooks: verify, name the delivery, normalize."""

from integrations.common import VendorSource
from integrations.jira.normalize import normalize
from integrations.jira.verify import delivery_key, verify

SOURCE = VendorSource(name="jira", verify=verify, delivery_key=delivery_key, normalize=normalize)

__all__ = ["SOURCE", "delivery_key", "normalize", "verify"]
