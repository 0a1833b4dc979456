"""Zendesk inbound webhooks: verify, name the delivery, normalize."""

from integrations.common import VendorSource
from integrations.zendesk.normalize import normalize
from integrations.zendesk.verify import delivery_key, verify

SOURCE = VendorSource(name="zendesk", verify=verify, delivery_key=delivery_key, normalize=normalize)

__all__ = ["SOURCE", "delivery_key", "normalize", "verify"]
