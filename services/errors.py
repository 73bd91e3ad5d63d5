"""Domain exceptions that views translate into form errors, flashes or HTTP answers."""


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is shown to the user as it is (Chinese)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The acting user may not do this (views answer 403, or 404 where existence must not leak)."""


class InvalidTransition(DomainError):
    """A workflow state change that the current state does not allow."""


class ImageRejected(DomainError):
    """An uploaded image that is not a usable JPEG, PNG or WebP."""
