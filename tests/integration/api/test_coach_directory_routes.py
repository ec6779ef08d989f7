"""GET /coaches: who offers something, by name, with their services; never an email address."""

from typing import Any

from coaching import clock
from coaching.models import MAX_ACTIVE_SERVICES, Caller, Role, Service, SessionType
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, coach, member, support, unique

from .api_steps import assert_ok, assert_problem, nothing_changes, travel


def _coach(name: str, tz: str = "Europe/Paris") -> Caller:
    who = unique("coach")
    return Caller(id=who, role=Role.COACH, email=f"{who}@example.com", name=name, timezone=tz)


def _offer(api: Api, who: Caller, name: str) -> dict[str, Any]:
    travel().advance(1)  # services list oldest first, to the second
    body = {"name": name, "session_types": [{"minutes": 60, "credits": 3}]}
    service: dict[str, Any] = assert_ok(api.post(who, "/services", body), 201)
    return service


def _directory(api: Api, **query: str) -> dict[str, Any]:
    found: dict[str, Any] = assert_ok(api.get(member(), "/coaches", query=query))
    return found


def _names(page: dict[str, Any]) -> list[str]:
    return [c["name"] for c in page["items"]]


def test_coaches_who_offer_a_service_are_listed_by_name_with_their_services(
    api: Api, given: World
) -> None:
    zoe, adam = _coach("Zoë Martin"), _coach("adam Smith", "Asia/Tokyo")
    walks = _offer(api, zoe, "Walking sessions")
    talks = _offer(api, zoe, "Career talks")
    adam_s = _offer(api, adam, "Leadership")

    page = _directory(api)

    assert page == {
        "items": [
            {
                "id": adam.id,
                "name": "adam Smith",
                "timezone": "Asia/Tokyo",
                "services": [{"id": adam_s["id"], "name": "Leadership"}],
            },
            {
                "id": zoe.id,
                "name": "Zoë Martin",
                "timezone": "Europe/Paris",
                "services": [
                    {"id": walks["id"], "name": "Walking sessions"},
                    {"id": talks["id"], "name": "Career talks"},
                ],
            },
        ],
        "next_token": None,
    }
    assert "@" not in str(page)  # no email address anywhere


def test_q_matches_the_start_of_a_name_whatever_its_case_and_accents(
    api: Api, given: World
) -> None:
    for name in ("Zoë Martin", "Zoe Adams", "Anna Zoellner", "Max Zorn"):
        _offer(api, _coach(name), "Coaching")

    assert _names(_directory(api, q="zoe")) == ["Zoe Adams", "Zoë Martin"]
    assert _names(_directory(api, q="ZOË M")) == ["Zoë Martin"]
    assert _names(_directory(api, q="  zoe   martin ")) == ["Zoë Martin"]
    assert _names(_directory(api, q="zoellner")) == []  # a prefix of the name, not of any word
    assert len(_directory(api, q="")["items"]) == 4


def test_the_directory_is_paged_by_name(api: Api, given: World) -> None:
    names = [f"Coach {letter}" for letter in "EDCBA"]
    for name in names:
        _offer(api, _coach(name), "Coaching")

    first = _directory(api, limit="2")
    second = _directory(api, limit="2", next_token=first["next_token"])
    third = _directory(api, limit="2", next_token=second["next_token"])

    assert [_names(p) for p in (first, second, third)] == [
        ["Coach A", "Coach B"],
        ["Coach C", "Coach D"],
        ["Coach E"],
    ]
    assert third["next_token"] is None


def test_a_token_from_another_search_is_refused(api: Api, given: World) -> None:
    for name in ("Ann One", "Ann Two", "Bob"):
        _offer(api, _coach(name), "Coaching")
    token = _directory(api, q="ann", limit="1")["next_token"]

    reply = api.get(member(), "/coaches", query={"q": "bob", "next_token": token})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="next_token")


def test_a_coach_leaves_the_directory_with_their_last_service_and_comes_back_with_a_new_one(
    api: Api, given: World
) -> None:
    carol = _coach("Carol Jones")
    first, second = _offer(api, carol, "One"), _offer(api, carol, "Two")

    assert_ok(api.post(carol, f"/services/{first['id']}/retire"))
    after_one = _directory(api)
    assert_ok(api.post(support(), f"/services/{second['id']}/retire"))
    after_both = _directory(api)
    third = _offer(api, carol, "Three")

    assert after_one["items"][0]["services"] == [{"id": second["id"], "name": "Two"}]
    assert after_both["items"] == []
    assert _directory(api)["items"][0]["services"] == [{"id": third["id"], "name": "Three"}]


def test_a_renamed_service_and_coach_show_in_the_directory(api: Api, given: World) -> None:
    carol = _coach("Carol Jones")
    service = _offer(api, carol, "One")
    renamed_coach = carol.model_copy(update={"name": "Carol Smith", "timezone": "Europe/Rome"})

    assert_ok(api.call(renamed_coach, "PATCH", f"/services/{service['id']}", {"name": "Uno"}))

    [listed] = _directory(api)["items"]
    assert listed == {
        "id": carol.id,
        "name": "Carol Smith",
        "timezone": "Europe/Rome",
        "services": [{"id": service["id"], "name": "Uno"}],
    }
    assert _names(_directory(api, q="carol s")) == ["Carol Smith"]
    assert _directory(api, q="carol j")["items"] == []


def test_a_coach_offers_at_most_fifty_services_at_once(
    api: Api, given: World, store: Storage
) -> None:
    carol = coach()
    for n in range(MAX_ACTIVE_SERVICES):
        given.service(by=carol, credits=1 + n % 3)

    with nothing_changes(store):
        refused = api.post(
            carol,
            "/services",
            {"name": "One more", "session_types": [{"minutes": 30, "credits": 1}]},
        )

    assert_problem(refused, 409, "SERVICE_LIMIT_REACHED")
    [listed] = _directory(api)["items"]
    assert len(listed["services"]) == MAX_ACTIVE_SERVICES


def test_a_coach_whose_services_predate_the_directory_is_listed_at_their_next_change(
    api: Api, given: World, store: Storage
) -> None:
    # Services written as they were before the directory existed: no entry for their coach.
    carol = _coach("Carol Old")
    old = [_stored_without_entry(store, carol, name) for name in ("Old one", "Old two")]
    assert _directory(api)["items"] == []

    new = _offer(api, carol, "New")

    [listed] = _directory(api)["items"]
    assert [s["name"] for s in listed["services"]] == ["Old one", "Old two", "New"]
    assert listed["services"][-1]["id"] == new["id"]
    assert {s["id"] for s in listed["services"][:2]} == {s.id for s in old}


def _stored_without_entry(store: Storage, who: Caller, name: str) -> Service:
    travel().advance(1)
    service = Service(
        id=unique("old"),
        coach=who.as_person(),
        name=name,
        session_types=[SessionType(id="t1", minutes=60, credits=3)],
        created_at=clock.now(),
    )
    store.put_service(service)
    return service


def test_the_directory_needs_a_sign_in(api: Api, given: World) -> None:
    assert_problem(api.get(None, "/coaches"), 401, "UNAUTHENTICATED")
