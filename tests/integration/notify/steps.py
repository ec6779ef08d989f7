"""Steps shared by the notify stories: a booked session, delivering the stream, finding mail."""

from coaching.models import Caller, Session
from tests.builders import World, coach, member
from tests.integration.notify.conftest import Notify, Sent


def booked(
    world: World, *, member_address: bool = True, **service_options: object
) -> tuple[Caller, Caller, Session]:
    """Ann (London) booked 3 credits' worth of Cho (New York), three days from now.

    Without ``member_address`` Ann has no email address, so only Cho can be told anything."""
    ann, cho = member("Ann"), coach("Cho")
    if not member_address:
        ann = ann.model_copy(update={"email": None})
    service = world.service(cho, credits=3, **service_options)  # type: ignore[arg-type]
    world.fund(ann, 10)
    return ann, cho, world.book(ann, service, in_hours=72)


def deliver(notify: Notify) -> list[Sent]:
    """Run the stream's new records through the function; the emails that went out."""
    before = len(notify.sent)
    event = notify.stream.event()
    if not event["Records"]:
        return []  # Lambda invokes nobody for a stream with nothing new
    answer = notify.invoke(event)
    assert answer == {"batchItemFailures": []}
    return notify.sent[before:]


def only(mails: list[Sent], person: Caller) -> Sent:
    """The one email among ``mails`` to ``person``."""
    assert person.email is not None
    mine = [mail for mail in mails if mail.to == [person.email]]
    assert len(mine) == 1, f"{len(mine)} emails to the {person.role.value}"
    return mine[0]
