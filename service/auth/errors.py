"""Errors raised by sign-in, users and CSRF checks (all `RelayError`s)."""

# The project names errors <Thing><Problem> (ARCHITECTURE.md), not <...>Error.

from __future__ import annotations

from service.errors import RelayError


class UserAlreadyExists(RelayError):
    code = "user_already_exists"
    status = 409


class UserNotFound(RelayError):
    code = "user_not_found"
    status = 404


class InvalidRole(RelayError):
    code = "invalid_role"
    status = 422


class InvalidEmail(RelayError):
    code = "invalid_email"
    status = 422


class PasswordTooWeak(RelayError):
    code = "password_too_weak"
    status = 422


class InvalidCredentials(RelayError):
    code = "invalid_credentials"
    status = 401


class TooManyAttempts(RelayError):
    code = "too_many_attempts"
    status = 429


class CsrfFailed(RelayError):
    code = "csrf_failed"
    status = 403
