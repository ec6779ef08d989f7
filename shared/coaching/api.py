"""The HTTP contract's bodies and answers (see API.md), and how a session is shown to a caller."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from coaching import rules
from coaching.models import (
    MAX_REASON_LENGTH,
    Account,
    AccountKind,
    Actor,
    Caller,
    Cancellation,
    EntryKind,
    HistoryEvent,
    LedgerEntry,
    Person,
    Policy,
    Refund,
    RescheduleRequest,
    Service,
    ServiceRef,
    Session,
    SessionCredits,
    SessionMinutes,
    SessionStatus,
    SessionType,
    TimeZoneName,
)

Reason = Annotated[str, Field(max_length=MAX_REASON_LENGTH)]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@|+-]+$")]


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
    start: AwareDatetime
    account_id: Id | None = None
    timezone: TimeZoneName | None = None


class CancelBody(Body):
    reason: Reason | None = None


class RescheduleBody(Body):
    start: AwareDatetime
    reason: Reason | None = None


class RefundBody(Body):
    credits: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    note: Reason | None = None


class CreateAccountBody(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    member_ids: Annotated[list[Id], Field(max_length=500)] = []
    admin_ids: Annotated[list[Id], Field(max_length=50)] = []


class GrantBody(Body):
    credits: Annotated[StrictInt, Field(ge=1, le=100_000)]
    note: Reason | None = None


class SessionTypeBody(Body):
    minutes: Annotated[SessionMinutes, Field(strict=True)]
    credits: Annotated[SessionCredits, Field(strict=True)]


class CreateServiceBody(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    session_types: Annotated[list[SessionTypeBody], Field(min_length=1, max_length=20)]
    cancellation_window_hours: Annotated[StrictInt, Field(ge=0, le=720)] = 24
    requires_approval: StrictBool = False
    request_ttl_hours: Annotated[StrictInt, Field(ge=1, le=720)] = 48
    late_reschedule_requires_approval: StrictBool = False


# --- answers ---------------------------------------------------------------------------------


class ActionsView(View):
    can_cancel: bool
    can_reschedule: bool
    can_refund: bool
    can_rebook: bool


class RebookView(View):
    """What "Schedule session" needs to book again with the same coach."""

    service_id: str
    session_type_id: str
    coach_id: str


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
    end: datetime
    timezone: str
    credits: int
    account_id: str
    policy: Policy
    cancellation: Cancellation | None
    refund: Refund
    reschedule_request: RescheduleRequest | None
    request_expires_at: datetime | None
    history: list[HistoryEvent]
    actions: ActionsView
    rebook: RebookView | None
    created_at: datetime


def session_view(session: Session, caller: Caller, now: datetime) -> SessionView:
    actions = rules.actions(caller, session, now)
    return SessionView(
        **session.model_dump(exclude={"version", "history", "policy"}),
        history=session.history,
        policy=session.policy,
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


class SessionList(View):
    items: list[SessionView]
    next_token: str | None


class QuoteView(View):
    refundable: bool
    refund_credits: int
    refundable_until: datetime
    window_hours: int


def quote_view(quote: rules.CancellationQuote) -> QuoteView:
    return QuoteView(
        refundable=quote.refundable,
        refund_credits=quote.refund_credits,
        refundable_until=quote.refundable_until,
        window_hours=quote.window_hours,
    )


class RescheduleAccepted(View):
    """202: the move waits for the coach."""

    session: SessionView
    reschedule_request: RescheduleRequest


class AccountView(View):
    id: str
    kind: AccountKind
    name: str
    balance: int
    member_ids: list[str] | None = None
    admin_ids: list[str] | None = None


def account_view(account: Account, caller: Caller) -> AccountView:
    """Group rosters are shown to their admins and support only."""
    can_see_roster = account.kind is AccountKind.GROUP and (
        caller.id in account.admin_ids or caller.role.value == "support"
    )
    return AccountView(
        id=account.id,
        kind=account.kind,
        name=account.name,
        balance=account.balance,
        member_ids=account.member_ids if can_see_roster else None,
        admin_ids=account.admin_ids if can_see_roster else None,
    )


class AccountList(View):
    items: list[AccountView]


class EntryView(View):
    id: str
    kind: EntryKind
    credits: int
    balance_after: int
    session_id: str | None
    actor: Actor | None
    at: datetime
    note: str | None


def entry_view(entry: LedgerEntry) -> EntryView:
    return EntryView(**entry.model_dump(exclude={"account_id", "seq"}))


class LedgerPage(View):
    items: list[EntryView]
    next_token: str | None


class ServiceView(View):
    id: str
    coach_id: str
    name: str
    session_types: list[SessionType]
    cancellation_window_hours: int
    requires_approval: bool
    request_ttl_hours: int
    late_reschedule_requires_approval: bool


def service_view(service: Service) -> ServiceView:
    return ServiceView(
        coach_id=service.coach_id, **service.model_dump(exclude={"coach", "created_at"})
    )


class Problem(View):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
