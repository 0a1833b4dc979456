"""Intercom inbound webhooks: verify, name the delivery, normalize."""

from integrations.common import VendorSource
from integrations.intercom.normalize import normalize
from integrations.intercom.verify import delivery_key, verify

SOURCE = VendorSource(
    name="intercom", verify=verify, delivery_key=delivery_key, normalize=normalize
)

__all__ = ["SOURCE", "delivery_key", "normalize", "verify"]
