"""Errors of the rules, each mapped to one HTTP status by the API."""

from __future__ import annotations


class DomainError(Exception):
    """Base: a request that cannot be done, with a message for the client."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """Malformed or wrongly typed input (400)."""


class NotFound(DomainError):
    """No such session (404)."""

    status_code = 404


class TooLarge(DomainError):
    """A body or batch over a configured limit (413)."""

    status_code = 413


class UnsupportedMediaType(DomainError):
    """A request body in a format the route does not take (415)."""

    status_code = 415
