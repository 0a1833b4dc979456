"""Freshdesk inbound webhooks: verify, name the delivery, normalize."""

from integrations.common import VendorSource
from integrations.freshdesk.normalize import normalize
from integrations.freshdesk.verify import delivery_key, verify

SOURCE = VendorSource(
    name="freshdesk", verify=verify, delivery_key=delivery_key, normalize=normalize
)

__all__ = ["SOURCE", "delivery_key", "normalize", "verify"]
