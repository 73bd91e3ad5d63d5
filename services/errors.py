"""Domain exceptions that views translate into form errors, flashes or HTTP answers."""


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is shown to the user as it is (Chinese)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """Data that breaks rules of the domain, field by field: ``fields`` maps each field at fault to its message,
    in the order the fields are judged; ``field`` and ``message`` are the first of them. A form shows each
    beside its field, the API lists each as a field error of its 400."""

    def __init__(self, fields: dict[str, str]):
        if not fields:
            raise ValueError("Invalid needs at least one field at fault")
        first, message = next(iter(fields.items()))
        super().__init__(message, field=first)
        self.fields = dict(fields)


class NotAllowed(DomainError):
    """The acting user may not do this (views answer 403, or 404 where existence must not leak)."""


class InvalidTransition(DomainError):
    """A workflow state change that the current state does not allow."""


class ImageRejected(DomainError):
    """An uploaded image that is not a usable JPEG, PNG or WebP."""
