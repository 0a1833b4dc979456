"""One error family; the app turns each into `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any


class RelayError(Exception):
    """Base of every error Relay reports to a caller."""

    code = "relay_error"
    status = 400

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotAuthenticated(RelayError):
    code = "not_authenticated"
    status = 401


class ScopeMissing(RelayError):
    code = "scope_missing"
    status = 403


class NotFound(RelayError):
    code = "not_found"
    status = 404


class InvalidRequest(RelayError):
    code = "invalid_request"
    status = 422


class PayloadTooLarge(RelayError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(RelayError):
    code = "unsupported_media_type"
    status = 415


class SourceNotConfigured(RelayError):
    code = "source_not_configured"
    status = 503


class StorageUnavailable(RelayError):
    code = "storage_unavailable"
    status = 503


class InternalError(RelayError):
    code = "internal_error"
    status = 500


class Conflict(RelayError):
    code = "conflict"
    status = 409
