"""Domain errors, and what storage reports in their place when DynamoDB says no.

Each domain error carries the stable code and HTTP status that docs/api.md lists; the HTTP
layer maps them to RFC 9457 problem documents in one place. Storage turns every AWS error into
one of the project's: a failed condition that means something to the caller becomes a domain
error (``SlotTaken``) or one of the storage outcomes below, and anything else a
``StorageFailed``, so no caller of storage handles botocore's errors. Messages never contain
personal data.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One field at fault. ``message`` is what is wrong with it, worded to follow its name
    ("must be in the future"); clients read ``sentence``."""

    field: str
    message: str

    @property
    def sentence(self) -> str:
        return f"{self.field} {self.message}."


class DomainError(Exception):
    code = "DOMAIN_ERROR"
    status = 400
    title = "Request failed"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class MalformedRequest(DomainError):
    code, status, title = "MALFORMED_REQUEST", 400, "Malformed request"


class UnsupportedMediaType(DomainError):
    code, status, title = "UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type"


class ValidationFailed(DomainError):
    code, status, title = "VALIDATION_FAILED", 422, "Validation failed"

    @classmethod
    def on(cls, field_name: str, message: str) -> "ValidationFailed":
        return cls.of([FieldError(field_name, message)])

    @classmethod
    def of(cls, errors: list[FieldError]) -> "ValidationFailed":
        """A refusal naming each field at fault; its detail is a sentence saying the same."""
        if len(errors) == 1:
            return cls(errors[0].sentence, errors)
        named = ", ".join(dict.fromkeys(e.field for e in errors))
        return cls(f"The request has {len(errors)} invalid fields: {named}.", errors)


class Unauthenticated(DomainError):
    code, status, title = "UNAUTHENTICATED", 401, "Not signed in"


class Forbidden(DomainError):
    code, status, title = "FORBIDDEN", 403, "Not allowed"


class NotFound(DomainError):
    code, status, title = "NOT_FOUND", 404, "Not found"


class SessionNotUpcoming(DomainError):
    code, status, title = "SESSION_NOT_UPCOMING", 409, "Session is not upcoming"


class SlotTaken(DomainError):
    code, status, title = "SLOT_TAKEN", 409, "Time slot taken"


class RescheduleWindowClosed(DomainError):
    code, status, title = "RESCHEDULE_WINDOW_CLOSED", 409, "Reschedule window closed"


class NothingToRefund(DomainError):
    code, status, title = "NOTHING_TO_REFUND", 409, "Nothing to refund"


class SessionStillUpcoming(DomainError):
    code, status, title = "SESSION_STILL_UPCOMING", 409, "Session still upcoming"


class InsufficientCredits(DomainError):
    code, status, title = "INSUFFICIENT_CREDITS", 409, "Insufficient credits"


class NotPending(DomainError):
    """Approve or decline of something that is not waiting for an answer."""

    code, status, title = "NOT_PENDING", 409, "Nothing is waiting for an answer"


class OutsideWorkingHours(DomainError):
    """A member's booking or move to a time outside the coach's working hours."""

    code, status, title = "OUTSIDE_WORKING_HOURS", 409, "Outside working hours"


class TooSoon(DomainError):
    """A member's booking or move inside the service's notice."""

    code, status, title = "TOO_SOON", 409, "Too soon"


class TooFarAhead(DomainError):
    """A member's booking or move past the service's horizon."""

    code, status, title = "TOO_FAR_AHEAD", 409, "Too far ahead"


class CoachUnavailable(DomainError):
    """A member's booking or move into the coach's time off."""

    code, status, title = "COACH_UNAVAILABLE", 409, "Coach unavailable"


class CoachDayFull(DomainError):
    """The coach holds as many sessions that day as they take."""

    code, status, title = "COACH_DAY_FULL", 409, "Coach's day is full"


class MemberLimitReached(DomainError):
    """The member holds as many upcoming sessions of the service as it allows."""

    code, status, title = "MEMBER_LIMIT_REACHED", 409, "Member limit reached"


class RescheduleLimitReached(DomainError):
    """A member has moved the session as often as its service allows."""

    code, status, title = "RESCHEDULE_LIMIT_REACHED", 409, "Reschedule limit reached"


class QuoteChanged(DomainError):
    """A cancel would now give back another amount than the quote the person confirmed."""

    code, status, title = "QUOTE_CHANGED", 409, "Cancellation quote changed"


class ServiceRetired(DomainError):
    """The coach no longer offers this service: nothing new is booked on it, nor retired again."""

    code, status, title = "SERVICE_RETIRED", 409, "Service retired"


class SessionTypeRetired(DomainError):
    """The service no longer offers this session type."""

    code, status, title = "SESSION_TYPE_RETIRED", 409, "Session type retired"


class ServiceLimitReached(DomainError):
    """The coach already offers as many active services as one coach may."""

    code, status, title = "SERVICE_LIMIT_REACHED", 409, "Too many active services"


class WebhookLimitReached(DomainError):
    """An admin already has as many webhook endpoints as one may have."""

    code, status, title = "WEBHOOK_LIMIT_REACHED", 409, "Webhook limit reached"


class WebhookDisabled(DomainError):
    """A delivery cannot be sent again while its endpoint is disabled."""

    code, status, title = "WEBHOOK_DISABLED", 409, "Webhook endpoint disabled"


class Conflict(DomainError):
    """Others kept changing the same item while we retried: the client may try again."""

    code, status, title = "CONFLICT", 409, "Concurrent change"


class IdempotencyKeyReused(DomainError):
    code, status, title = "IDEMPOTENCY_KEY_REUSED", 422, "Idempotency key reused"


class IdempotencyKeyInvalid(DomainError):
    """An Idempotency-Key header that is empty, too long, or holds other than visible ASCII."""

    code, status, title = "IDEMPOTENCY_KEY_INVALID", 400, "Invalid idempotency key"


class RecordTooLarge(DomainError):
    """A change that would take a stored record past DynamoDB's item size. The service bounds
    what it stores so that no request should meet this; it answers 4xx if one ever does."""

    code, status, title = "RECORD_TOO_LARGE", 422, "Record too large"


class NoShowAlreadyMarked(DomainError):
    code, status, title = "NO_SHOW_ALREADY_MARKED", 409, "No-show already marked"


class InternalError(DomainError):
    """Our fault, not the caller's: an answer that did not match its own schema."""

    code, status, title = "INTERNAL_ERROR", 500, "Internal error"


class Throttled(DomainError):
    code, status, title = "THROTTLED", 429, "Too many requests"


ALL_ERRORS: tuple[type[DomainError], ...] = (
    MalformedRequest,
    UnsupportedMediaType,
    ValidationFailed,
    Unauthenticated,
    Forbidden,
    NotFound,
    SessionNotUpcoming,
    SlotTaken,
    RescheduleWindowClosed,
    NothingToRefund,
    SessionStillUpcoming,
    InsufficientCredits,
    NotPending,
    RescheduleLimitReached,
    OutsideWorkingHours,
    TooSoon,
    TooFarAhead,
    CoachUnavailable,
    CoachDayFull,
    MemberLimitReached,
    QuoteChanged,
    ServiceRetired,
    SessionTypeRetired,
    ServiceLimitReached,
    WebhookLimitReached,
    WebhookDisabled,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyKeyInvalid,
    NoShowAlreadyMarked,
    RecordTooLarge,
    InternalError,
    Throttled,
)


# --- what storage reports ----------------------------------------------------------------------


class StaleRead(Exception):
    """An item changed between our read and our write: read again and decide again."""


class TransientConflict(Exception):
    """DynamoDB refused for now (transaction conflict, throttling): the same call may pass."""


class KeyAlreadyUsed(Exception):
    """Another request with this key committed first: answer from its record, change nothing."""


class StorageFailed(Exception):
    """DynamoDB refused or failed a request for a reason no rule of ours explains: a missing
    table, denied access, a request it would not take, a fault of its own.

    Never the caller's doing: the HTTP layer answers it as any fault of ours (500
    ``INTERNAL_ERROR``). ``code`` is AWS's error code (or the client's error type), never its
    message, which may quote the values of an item.
    """

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class StorageUnavailable(StorageFailed):
    """DynamoDB could not be reached, did not answer in time, or was still throttling after
    the client's own retries: the same request may pass later."""
