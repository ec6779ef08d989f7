"""What each route answers when it refuses: its statuses and stable codes, in one table.

The docs function writes it into each operation's responses in the OpenAPI document, and
``make openapi`` into docs/api.md's list, so a generated client knows that a cancel can answer
409 ``SESSION_NOT_UPCOMING``; the HTTP tests fail when a route answers a code it does not list
here. Answers that API Gateway gives on its own (its authorizer's 401, its throttling 429, a
body over 10 MB) are described once in docs/api.md, not per route.
"""

from coaching import errors
from coaching.errors import DomainError

Refusals = tuple[type[DomainError], ...]

EVERY_ROUTE: Refusals = (errors.Unauthenticated, errors.InternalError)
"""Any route behind the authorizer (a token without a subject), or under ``/manage`` (a manage
link's token that is missing, altered or expired), and a fault of ours."""
BODY: Refusals = (errors.MalformedRequest, errors.UnsupportedMediaType, errors.ValidationFailed)
"""A route that reads a JSON body (even an optional one)."""
WRITE: Refusals = (
    errors.IdempotencyKeyInvalid,
    errors.IdempotencyKeyReused,
    errors.Conflict,
    errors.RecordTooLarge,
)
"""A POST or PUT: it takes an Idempotency-Key, may lose a race to others too often, and (what
the service's bounds should never let happen) could meet DynamoDB's item size."""
PATH_ID: Refusals = (errors.NotFound,)
"""A route with an id in its path: an id that is not one, or names nothing the caller may see."""
QUERY: Refusals = (errors.ValidationFailed,)
"""A route that reads query parameters."""

_SESSION_WRITE = (*BODY, *WRITE, *PATH_ID)
BOOKING_RULE: Refusals = (
    errors.OutsideWorkingHours,
    errors.TooSoon,
    errors.TooFarAhead,
    errors.CoachUnavailable,
    errors.CoachDayFull,
    errors.MemberLimitReached,
)
"""What the one booking rule refuses a member's booking or move with (``rules``)."""
_WEBHOOK_WRITE = (*BODY, *WRITE, *PATH_ID, errors.Forbidden)

ROUTES: dict[str, Refusals] = {
    "GET /accounts": (),
    "POST /accounts": (*BODY, *WRITE, errors.Forbidden),
    "GET /accounts/{account_id}": PATH_ID,
    "POST /accounts/{account_id}/grants": (*BODY, *WRITE, *PATH_ID, errors.Forbidden),
    "GET /accounts/{account_id}/ledger": (*PATH_ID, *QUERY),
    "PATCH /accounts/{account_id}": (*BODY, *WRITE, *PATH_ID, errors.Forbidden),
    "GET /accounts/{account_id}/changes": (*PATH_ID, *QUERY, errors.Forbidden),
    "PUT /coaches/me/availability": (*BODY, *WRITE, errors.Forbidden),
    "GET /coaches/{coach_id}/availability": PATH_ID,
    "POST /coaches/me/time-off": (*BODY, *WRITE, errors.Forbidden),
    "GET /coaches/{coach_id}/time-off": (*PATH_ID, *QUERY),
    "DELETE /coaches/me/time-off/{time_off_id}": (*PATH_ID, *WRITE, errors.Forbidden),
    "GET /services": QUERY,
    "POST /services": (*BODY, *WRITE, errors.Forbidden, errors.ServiceLimitReached),
    "GET /services/{service_id}": PATH_ID,
    "PATCH /services/{service_id}": (
        *BODY,
        *WRITE,
        *PATH_ID,
        errors.Forbidden,
        errors.ServiceRetired,
    ),
    "POST /services/{service_id}/retire": (
        *BODY,
        *WRITE,
        *PATH_ID,
        errors.Forbidden,
        errors.ServiceRetired,
    ),
    "GET /coaches": QUERY,
    "GET /services/{service_id}/slots": (*PATH_ID, *QUERY),
    "GET /sessions": (*QUERY, errors.Forbidden, errors.NotFound),
    "POST /sessions": (
        *BODY,
        *WRITE,
        errors.Forbidden,
        errors.NotFound,
        errors.SlotTaken,
        errors.InsufficientCredits,
        errors.ServiceRetired,
        errors.SessionTypeRetired,
        *BOOKING_RULE,
    ),
    "GET /sessions/{session_id}": PATH_ID,
    "GET /sessions/{session_id}/history": (*PATH_ID, *QUERY),
    "GET /sessions/{session_id}/cancellation": PATH_ID,
    "POST /sessions/{session_id}/cancel": (
        *_SESSION_WRITE,
        errors.SessionNotUpcoming,
        errors.QuoteChanged,
    ),
    "POST /sessions/{session_id}/approve": (*_SESSION_WRITE, errors.Forbidden, errors.NotPending),
    "POST /sessions/{session_id}/decline": (*_SESSION_WRITE, errors.Forbidden, errors.NotPending),
    "POST /sessions/{session_id}/reschedule": (
        *_SESSION_WRITE,
        errors.SessionNotUpcoming,
        errors.SlotTaken,
        errors.RescheduleWindowClosed,
        errors.RescheduleLimitReached,
        *(e for e in BOOKING_RULE if e is not errors.MemberLimitReached),
    ),
    "POST /sessions/{session_id}/reschedule-request/approve": (
        *_SESSION_WRITE,
        errors.Forbidden,
        errors.NotPending,
    ),
    "POST /sessions/{session_id}/reschedule-request/decline": (
        *_SESSION_WRITE,
        errors.Forbidden,
        errors.NotPending,
    ),
    "POST /sessions/{session_id}/reschedule-request/withdraw": (
        *_SESSION_WRITE,
        errors.Forbidden,
        errors.NotPending,
    ),
    "POST /sessions/{session_id}/refund": (
        *_SESSION_WRITE,
        errors.Forbidden,
        errors.SessionStillUpcoming,
        errors.NothingToRefund,
    ),
    "POST /sessions/{session_id}/no-show": (
        *_SESSION_WRITE,
        errors.Forbidden,
        errors.SessionStillUpcoming,
        errors.SessionNotUpcoming,
        errors.NoShowAlreadyMarked,
    ),
    # Outside the authorizer: the manage link's token is checked by the function (401).
    "GET /manage/session": (),
    "GET /manage/cancellation": (),
    "POST /manage/cancel": (*BODY, *WRITE, errors.SessionNotUpcoming, errors.QuoteChanged),
    "POST /manage/reschedule": (
        *BODY,
        *WRITE,
        errors.SessionNotUpcoming,
        errors.SlotTaken,
        errors.RescheduleWindowClosed,
        errors.RescheduleLimitReached,
        *(e for e in BOOKING_RULE if e is not errors.MemberLimitReached),
    ),
    "GET /manage/slots": QUERY,
    "POST /webhooks": (*BODY, *WRITE, errors.Forbidden, errors.WebhookLimitReached),
    "GET /webhooks": (*QUERY, errors.Forbidden),
    "GET /webhooks/{webhook_id}": (*PATH_ID, errors.Forbidden),
    "DELETE /webhooks/{webhook_id}": (*PATH_ID, errors.Forbidden, errors.Conflict),
    "POST /webhooks/{webhook_id}/enable": _WEBHOOK_WRITE,
    "POST /webhooks/{webhook_id}/rotate-secret": _WEBHOOK_WRITE,
    "GET /webhooks/{webhook_id}/deliveries": (*PATH_ID, *QUERY, errors.Forbidden),
    "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/retry": (
        *_WEBHOOK_WRITE,
        errors.WebhookDisabled,
    ),
}
PUBLIC_ROUTES = frozenset({"GET /openapi.json", "GET /docs"})
"""Routes outside the authorizer that answer documents, not data: only a fault of ours."""
FILE_ROUTES: dict[str, Refusals] = {
    "GET /app": (),
    "GET /app/{proxy+}": (errors.NotFound,),
}
"""The web component's files, outside the authorizer too: a name that is no file is 404."""


def refusals(route_key: str) -> list[type[DomainError]]:
    """What ``route_key`` ("POST /sessions") may answer when it refuses, by status then code."""
    if route_key in PUBLIC_ROUTES:
        found: set[type[DomainError]] = {errors.InternalError}
    elif route_key in FILE_ROUTES:
        found = {errors.InternalError, *FILE_ROUTES[route_key]}
    else:
        found = {*EVERY_ROUTE, *ROUTES[route_key]}
    return sorted(found, key=lambda error: (error.status, error.code))


def by_status(route_key: str) -> dict[int, list[str]]:
    """The codes a route may answer, grouped by status."""
    grouped: dict[int, list[str]] = {}
    for error in refusals(route_key):
        grouped.setdefault(error.status, []).append(error.code)
    return grouped
