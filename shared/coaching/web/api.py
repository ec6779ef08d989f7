"""The HTTP contract's bodies and answers for sessions (docs/api.md), how a session is shown to
a caller, and what every part of the contract shares (ids, reasons, the bodies' and answers'
bases, the problem document).

The accounts' and the services' parts are modules of their own (``account_api``,
``service_api``, and ``webhook_api`` for the webhooks), each imported by its one function only:
a function builds none of the models its routes never use."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
)

from coaching import rules
from coaching.errors import ValidationFailed
from coaching.formats import ID_MAX_LENGTH, ID_PATTERN
from coaching.free_times import FreeTime
from coaching.models import (
    HISTORY_KEPT,
    MAX_REASON_LENGTH,
    SLOT_MINUTES,
    AccountRef,
    Actor,
    Caller,
    HistoryEvent,
    NoShow,
    NoShowParty,
    Person,
    Policy,
    Refund,
    RescheduleRequest,
    ServiceRef,
    Session,
    SessionStatus,
    SessionType,
    TimeZoneName,
)


def _integral(value: Any) -> Any:
    """``3.0`` is the integer 3, as JSON Schema's ``integer`` counts it; 3.5, ``true`` and
    ``"3"`` are still refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = BeforeValidator(_integral)
"""After a body's whole number's constraints: it may be written with a zero fraction (``3.0``)."""

Reason = Annotated[str, Field(max_length=MAX_REASON_LENGTH)]
GridStart = Annotated[
    AwareDatetime,
    AfterValidator(lambda start: start.astimezone(UTC)),
    Field(
        description=(
            f"RFC 3339 with an offset, on a {SLOT_MINUTES}-minute boundary (:00, :15, :30, :45); "
            "any other start fails validation naming `start`."
        )
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""An id in a path: one that is not an id names nothing, and answers 404 before any model is
built (``coaching.web.problems``)."""
QueryId = Annotated[str, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""An id in a query: one that is not an id answers 422 naming the parameter."""
OptionalQueryId = Annotated[
    str | None, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)
]


class Body(BaseModel):
    """Request bodies refuse fields they do not know."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class View(BaseModel):
    """Answers. Like the bodies, each is built (its validator and serializer) when first used,
    not at import: a function uses a few of them, and its cold start should not build all."""

    model_config = ConfigDict(defer_build=True)


class BookBody(Body):
    service_id: Id
    session_type_id: Id
    start: GridStart
    account_id: Id | None = None
    timezone: TimeZoneName | None = None


_EXPECTED_REFUND_DOC = (
    "The `refund_credits` of the quote the person confirmed. When a cancel now would give back "
    "another amount (the window closed meanwhile), the cancel is refused with 409 "
    "`QUOTE_CHANGED` and nothing changes."
)


class CancelBody(Body):
    reason: Reason | None = None
    expected_refund_credits: (
        Annotated[StrictInt, Field(ge=0, le=10_000, description=_EXPECTED_REFUND_DOC), WHOLE] | None
    ) = None


class RescheduleBody(Body):
    start: GridStart
    reason: Reason | None = None


class DeclineBody(Body):
    """Declining a booking or a reschedule request: the reason is kept and sent to the member."""

    reason: Reason | None = None


class WithdrawBody(Body):
    """Withdrawing a reschedule request: the reason is kept and sent to the coach."""

    reason: Reason | None = None


class ApproveBody(Body):
    """Approving takes no fields; any field sent is refused rather than silently dropped."""


class NoShowBody(Body):
    """Who did not turn up: the coach may name only the member, support either."""

    party: NoShowParty


class RefundBody(Body):
    credits: Annotated[StrictInt, Field(ge=1, le=10_000), WHOLE] | None = None
    note: Reason | None = None


def parse_statuses(text: str | None) -> frozenset[SessionStatus]:
    """``status=A,B`` of GET /sessions: the statuses to keep (none given: keep all)."""
    if text is None:
        return frozenset()
    names = [part.strip() for part in text.split(",")]
    known = {s.value for s in SessionStatus}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValidationFailed.on(
            "status", f"must be one or more of {', '.join(sorted(known))}, separated by commas"
        )
    return frozenset(SessionStatus(n) for n in names)


# --- answers ---------------------------------------------------------------------------------


class ActionsView(View):
    can_cancel: bool
    can_reschedule: bool
    can_refund: bool
    can_rebook: bool
    can_mark_no_show: bool


class PolicyView(Policy):
    """The policy fixed at booking, and what of it is left for the member now."""

    refund_reminder_minutes: int | None  # type: ignore[assignment]
    """How long before each refund deadline the member is told it is near; null: not told."""
    reschedules_left: int | None
    """Moves the member may still make under ``max_reschedules``."""


class RebookView(View):
    """What "Schedule session" needs to book again with the same coach."""

    service_id: str
    session_type_id: str
    coach_id: str


class CancellationView(View):
    """A cancel as the session's readers see it (support's own contact stays out)."""

    canceled_at: datetime
    canceled_by: Actor
    reason: str | None
    refundable: bool


class SessionView(View):
    id: str
    status: SessionStatus
    view: Literal["upcoming", "past"]
    """Which list the session belongs to now; canceled sessions are always past."""
    member: Person
    coach: Person
    service: ServiceRef
    session_type: SessionType
    start: datetime
    end: Annotated[
        datetime,
        Field(
            description=(
                "The start plus the session type's minutes. The coach's time stays held until "
                f"this end rounded up to the next {SLOT_MINUTES}-minute boundary."
            )
        ),
    ]
    timezone: str
    credits: int
    account_id: str
    account: AccountRef | None
    """The account it was paid from (id, kind, name), where known."""
    location: str | None
    """Where it takes place, as its service said when it was booked; null when it said nothing."""
    policy: PolicyView
    cancellation: CancellationView | None
    refund: Refund
    no_show: NoShow | None
    outside_hours: bool
    """The coach or support moved it where a member could not have booked it (outside the
    coach's hours, into their time off, or past the notice or horizon)."""
    """``{party, marked_by, marked_at}`` once a no-show is marked, else null."""
    reschedule_request: RescheduleRequest | None
    request_expires_at: datetime | None
    history: Annotated[
        list[HistoryEvent],
        Field(
            description=(
                f"The latest changes, oldest first: at most {HISTORY_KEPT}. Every change is "
                "listed by GET /sessions/{session_id}/history."
            )
        ),
    ]
    history_count: int
    """How many changes the session has had in all."""
    actions: ActionsView
    rebook: RebookView | None
    created_at: datetime


def session_view(session: Session, caller: Caller, now: datetime) -> SessionView:
    session = rules.as_read(session, now)
    actions = rules.actions(caller, session, now)
    return SessionView(
        **session.model_dump(
            exclude={
                "version": True,
                "history": True,
                "history_count": True,
                "member_moves": True,
                "counted_day": True,
                "counted_for_member": True,
                "policy": True,
                "cancellation": {"canceled_by_contact"},
            }
        ),
        history=session.history,
        history_count=session.changes,
        policy=PolicyView(
            **session.policy.model_dump(exclude={"refund_reminder_minutes"}),
            refund_reminder_minutes=session.policy.refund_reminder_minutes or None,
            reschedules_left=rules.reschedules_left(session),
        ),
        view="upcoming" if rules.is_upcoming(session, now) else "past",
        actions=ActionsView(**actions.__dict__),
        rebook=RebookView(
            service_id=session.service.id,
            session_type_id=session.session_type.id,
            coach_id=session.coach.id,
        )
        if actions.can_rebook
        else None,
    )


class HistoryEntryView(HistoryEvent):
    """A change of a session, with its number: 1 is the booking, each change the next."""

    number: int


class HistoryPage(View):
    items: list[HistoryEntryView]
    next_token: str | None


def history_page(entries: list[tuple[int, HistoryEvent]], token: str | None) -> HistoryPage:
    return HistoryPage(
        items=[HistoryEntryView(**e.model_dump(), number=n) for n, e in entries],
        next_token=token,
    )


class SessionList(View):
    items: list[SessionView]
    next_token: str | None


class QuoteView(View):
    refundable: bool
    refund_credits: int
    refund_percent: int
    """The percent of the credits the tier that applies now gives back (0 when none does)."""
    refundable_until: datetime
    """When the tier that applies now ends."""
    window_hours: int


def quote_view(quote: rules.CancellationQuote) -> QuoteView:
    return QuoteView(
        refundable=quote.refundable,
        refund_credits=quote.refund_credits,
        refund_percent=quote.refund_percent,
        refundable_until=quote.refundable_until,
        window_hours=quote.window_hours,
    )


class RescheduleAccepted(View):
    """202: the move waits for the coach."""

    session: SessionView
    reschedule_request: RescheduleRequest


RESCHEDULE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "Moved", "content": {"application/json": {"model": SessionView}}},
    202: {
        "description": "Waiting for the coach",
        "content": {"application/json": {"model": RescheduleAccepted}},
    },
}
"""What a move answers, from the app's route and the manage link's alike."""


def reschedule_answer(
    session: Session, mode: Literal["DIRECT", "REQUEST"], caller: Caller, now: datetime
) -> tuple[SessionView | RescheduleAccepted, int]:
    """A move's answer: the session moved (200), or the request that waits for the coach (202)."""
    view = session_view(session, caller, now)
    if mode == "DIRECT":
        return view, 200
    assert session.reschedule_request is not None  # a REQUEST always leaves one
    return RescheduleAccepted(session=view, reschedule_request=session.reschedule_request), 202


class FreeTimeView(View):
    start: datetime
    end: datetime


class FreeTimeList(View):
    items: list[FreeTimeView]


def free_time_list(found: list[FreeTime]) -> FreeTimeList:
    return FreeTimeList(items=[FreeTimeView(start=f.start, end=f.end) for f in found])


def answer_for(result: object, caller: Caller, now: datetime) -> tuple[int, BaseModel] | None:
    """The status and body a session's write answers with, from what it wrote; None for a
    result that is not a session (accounts, services and webhooks answer for theirs in their
    own modules: ``coaching.web.http.stored_answer``).

    Used to store a keyed request's answer in the same transaction as its change, before the
    route itself returns; it must agree with what the routes return (a test holds them together).
    """
    if not isinstance(result, Session):
        return None
    view = session_view(result, caller, now)
    if result.version == 1:
        return 201, view  # booked
    last = result.history[-1].kind if result.history else None
    if last == "RESCHEDULE_REQUESTED" and result.reschedule_request is not None:
        return 202, RescheduleAccepted(session=view, reschedule_request=result.reschedule_request)
    return 200, view


class Problem(View):
    """An RFC 9457 problem document."""

    type: Annotated[str, Field(description="`urn:problem:coaching:` and the code in lower case")]
    title: str
    status: int
    detail: str
    code: Annotated[str, Field(description="The stable error code, such as `SLOT_TAKEN`")]
    errors: list[dict[str, str]] | None = None
