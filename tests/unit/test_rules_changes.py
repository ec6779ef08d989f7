"""Changing what was set up: a service's edit and retirement, a group's people, the coach
directory's entries and the names it sorts by. Pure rules, ``now`` passed in."""

from typing import Any

import pytest

from coaching import rules
from coaching.errors import (
    Forbidden,
    NotFound,
    ServiceLimitReached,
    ServiceRetired,
    SessionTypeRetired,
    ValidationFailed,
)
from coaching.models import (
    MAX_ACTIVE_SERVICES,
    Account,
    AccountKind,
    CoachEntry,
    Person,
    Service,
    ServiceRef,
    SessionType,
)
from coaching.storage.keys import directory_position, folded
from coaching.web.service_api import (
    CreateServiceBody,
    ServicePatchBody,
    SessionTypeBody,
    SessionTypeChangeBody,
)
from tests.builders import ADMIN, CALLERS, COACH, MEMBER, NOW, SUPPORT, hours, service

Edits = rules.SessionTypeEdits


def two_types() -> Service:
    return service().model_copy(
        update={
            "session_types": [
                SessionType(id="t1", minutes=60, credits=3),
                SessionType(id="t2", minutes=30, credits=2),
            ]
        }
    )


def fields(error: ValidationFailed) -> list[str]:
    return [e.field for e in error.errors]


# --- edit_service ------------------------------------------------------------------------------


def test_an_edit_replaces_the_settings_it_names_and_counts_the_change() -> None:
    before = two_types()

    after = rules.edit_service(
        before, {"cancellation_window_hours": 48, "name": "Career"}, Edits(), NOW
    )

    assert (after.cancellation_window_hours, after.name) == (48, "Career")
    assert after.requires_approval == before.requires_approval
    assert (after.version, after.updated_at) == (before.version + 1, NOW)
    assert after.session_types == before.session_types


def test_types_are_changed_added_and_retired_by_id_and_ids_continue_after_the_highest() -> None:
    after = rules.edit_service(
        two_types(),
        {},
        Edits(
            add=[{"minutes": 90, "credits": 5}],
            change=[{"id": "t1", "credits": 4}],
            retire=["t2"],
        ),
        NOW,
    )

    assert [(t.id, t.minutes, t.credits) for t in after.session_types] == [
        ("t1", 60, 4),
        ("t3", 90, 5),
    ]
    assert [(t.id, t.retired_at) for t in after.retired_session_types] == [("t2", NOW)]
    assert after.last_session_type_number == 3
    later = rules.edit_service(
        after, {}, Edits(retire=["t3"], add=[{"minutes": 45, "credits": 1}]), NOW
    )
    assert [t.id for t in later.session_types] == ["t1", "t4"]
    assert [t.id for t in later.retired_session_types] == ["t3", "t2"]  # latest first


def test_an_id_dropped_from_the_retired_list_is_still_never_given_out_again() -> None:
    current = two_types()
    for _ in range(25):
        oldest = current.session_types[0].id
        current = rules.edit_service(
            current, {}, Edits(retire=[oldest], add=[{"minutes": 30, "credits": 1}]), NOW
        )

    assert len(current.retired_session_types) == 20
    assert [t.id for t in current.session_types] == ["t26", "t27"]
    assert current.was_retired("t1") and current.was_retired("t25")
    assert not current.was_retired("t28") and not current.was_retired("x1")


def test_an_edit_that_changes_nothing_is_the_same_service() -> None:
    before = two_types()

    same = rules.edit_service(
        before,
        {"name": before.name, "cancellation_window_hours": 24},
        Edits(change=[{"id": "t2", "minutes": 30}]),
        NOW,
    )

    assert same is before


@pytest.mark.parametrize(
    ("types", "field"),
    [
        (Edits(retire=["t1", "t2"]), "session_types"),
        (Edits(retire=["t9"]), "session_types.retire.0"),
        (Edits(retire=["t1", "t1"]), "session_types.retire.1"),
        (Edits(change=[{"id": "t9", "credits": 1}]), "session_types.change.0.id"),
        (
            Edits(change=[{"id": "t1", "credits": 1}, {"id": "t1", "minutes": 30}]),
            "session_types.change.1.id",
        ),
        (Edits(retire=["t1"], change=[{"id": "t1", "credits": 1}]), "session_types.change.0.id"),
        (Edits(change=[{"id": "t1", "credits": 0}]), "session_types.0.credits"),
        (Edits(add=[{"minutes": 30, "credits": 1}] * 19), "session_types"),
    ],
    ids=[
        "none left",
        "retire unknown",
        "retire twice",
        "change unknown",
        "change twice",
        "change what it retires",
        "free",
        "over twenty",
    ],
)
def test_type_edits_that_do_not_fit_the_service_name_the_field(types: Edits, field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.edit_service(two_types(), {}, types, NOW)

    assert field in fields(raised.value)


def test_settings_that_break_the_service_as_a_whole_are_refused_naming_the_field() -> None:
    tiers = [{"hours_before": 24, "percent": 100}, {"hours_before": 24, "percent": 50}]

    with pytest.raises(ValidationFailed) as raised:
        rules.edit_service(two_types(), {"refund_tiers": tiers}, Edits(), NOW)

    assert fields(raised.value) == ["refund_tiers"]


@pytest.mark.parametrize("name", ["id", "coach", "version", "retired_at", "colour"])
def test_only_settings_are_edited_as_values(name: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.edit_service(two_types(), {name: "x"}, Edits(), NOW)

    assert fields(raised.value) == [name]


def test_a_retired_service_is_neither_edited_nor_retired_again() -> None:
    retired = rules.retire_service(two_types(), NOW)

    assert (retired.retired_at, retired.updated_at, retired.version) == (NOW, NOW, 2)
    with pytest.raises(ServiceRetired):
        rules.edit_service(retired, {"name": "Again"}, Edits(), NOW)
    with pytest.raises(ServiceRetired):
        rules.retire_service(retired, NOW)


@pytest.mark.parametrize("who", ["coach", "support"])
def test_its_coach_and_support_change_a_service(who: str) -> None:
    rules.require_can_change_service(CALLERS[who], service())


@pytest.mark.parametrize("who", ["member", "other_member", "other_coach", "admin"])
def test_nobody_else_changes_a_service(who: str) -> None:
    with pytest.raises(Forbidden):
        rules.require_can_change_service(CALLERS[who], service())


# --- what a booking may take ---------------------------------------------------------------------


def test_a_retired_service_and_a_retired_type_take_no_booking() -> None:
    edited = rules.edit_service(two_types(), {}, Edits(retire=["t2"]), NOW)
    retired = rules.retire_service(edited, NOW)

    assert rules.bookable_type(edited, "t1").id == "t1"
    with pytest.raises(SessionTypeRetired):
        rules.bookable_type(edited, "t2")
    with pytest.raises(ValidationFailed):
        rules.bookable_type(edited, "t3")  # never given out
    with pytest.raises(ServiceRetired):
        rules.require_can_book(MEMBER, retired, NOW + hours(72), NOW)


# --- the PATCH body is POST's ------------------------------------------------------------------


def test_the_patch_takes_every_setting_creation_takes_with_the_same_checks() -> None:
    settings = set(CreateServiceBody.model_fields) - {"session_types"}

    assert set(ServicePatchBody.model_fields) == settings | {"session_types"}
    for name in settings:
        created = CreateServiceBody.model_fields[name]
        patched = ServicePatchBody.model_fields[name]
        assert str(created.rebuild_annotation()) in str(patched.rebuild_annotation()), name
    assert set(SessionTypeChangeBody.model_fields) == set(SessionTypeBody.model_fields) | {"id"}


def test_every_setting_creation_takes_is_a_field_of_the_service_an_edit_writes() -> None:
    # An edit applies the settings to the Service by name: a creation field the Service lacks
    # would refuse every edit naming it.
    assert set(CreateServiceBody.model_fields) - {"session_types"} <= rules.SERVICE_SETTINGS


@pytest.mark.parametrize(
    ("body", "settings"),
    [
        ({"max_reschedules": None}, {"max_reschedules": 5}),
        ({"cancellation_window_hours": None}, {"cancellation_window_hours": 24}),
        ({"late_reschedule_requires_approval": None}, {"late_reschedule_requires_approval": True}),
        (
            {"refund_tiers": [{"hours_before": 2, "percent": 50}]},
            {"refund_tiers": [{"hours_before": 2, "percent": 50}]},
        ),
        ({}, {}),
    ],
    ids=["default limit", "default window", "default approval", "tiers", "nothing"],
)
def test_a_merge_patch_null_is_the_creation_default(
    body: dict[str, Any], settings: dict[str, Any]
) -> None:
    assert ServicePatchBody.model_validate(body).settings() == settings


# --- groups ------------------------------------------------------------------------------------


def group(**changes: Any) -> Account:
    values: dict[str, Any] = {"member_ids": ["m1", "m2"], "admin_ids": [ADMIN.id], **changes}
    return Account(id="group-acme", kind=AccountKind.GROUP, name="Acme", **values)


def test_a_group_change_records_only_what_it_changed() -> None:
    after, change = rules.edit_group(
        ADMIN,
        group(),
        rules.GroupEdit(
            name="Acme pool",
            add_members=["m2", "m3", "m3"],
            remove_members=["m1", "nobody"],
            add_admins=["a2"],
        ),
        NOW,
    )

    assert (after.name, after.member_ids, after.admin_ids) == (
        "Acme pool",
        ["m2", "m3"],
        [
            ADMIN.id,
            "a2",
        ],
    )
    assert (after.revision, after.updated_at) == (1, NOW)
    assert change is not None
    assert (change.seq, change.at, change.by) == (1, NOW, ADMIN.actor)
    assert change.name is not None and (change.name.before, change.name.after) == (
        "Acme",
        "Acme pool",
    )
    assert (change.added_members, change.removed_members) == (["m3"], ["m1"])
    assert (change.added_admins, change.removed_admins) == (["a2"], [])


def test_a_group_change_that_changes_nothing_records_nothing() -> None:
    before = group(revision=3)

    after, change = rules.edit_group(
        SUPPORT, before, rules.GroupEdit(name="Acme", add_members=["m1"]), NOW
    )

    assert (after, change) == (before, None)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (rules.GroupEdit(remove_admins=[ADMIN.id]), "remove_admins"),
        (rules.GroupEdit(add_members=["x"], remove_members=["x"]), "remove_members"),
        (rules.GroupEdit(add_admins=["x"], remove_admins=["x"]), "remove_admins"),
        (rules.GroupEdit(add_members=[f"n{i}" for i in range(499)]), "add_members"),
    ],
    ids=["no admin left", "member both ways", "admin both ways", "past 500 members"],
)
def test_a_group_change_that_does_not_fit_is_refused(edit: rules.GroupEdit, field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.edit_group(ADMIN, group(), edit, NOW)

    assert field in fields(raised.value)


def test_who_changes_a_group() -> None:
    rules.edit_group(SUPPORT, group(), rules.GroupEdit(name="By support"), NOW)
    with pytest.raises(Forbidden):  # sees it, does not run it
        rules.edit_group(MEMBER, group(member_ids=[MEMBER.id]), rules.GroupEdit(name="x"), NOW)
    with pytest.raises(NotFound):
        rules.edit_group(MEMBER, group(), rules.GroupEdit(name="x"), NOW)
    other_admin = ADMIN.model_copy(update={"id": "admin-other"})
    with pytest.raises(NotFound):  # an admin, of another group
        rules.edit_group(other_admin, group(), rules.GroupEdit(name="x"), NOW)
    with pytest.raises(Forbidden):  # a personal account, even its owner's
        rules.edit_group(MEMBER, Account.personal(MEMBER.id), rules.GroupEdit(name="x"), NOW)


# --- the coach directory -------------------------------------------------------------------------


def entry(*services: str, version: int = 3) -> CoachEntry:
    return CoachEntry(
        coach_id=COACH.id,
        name="Carol",
        timezone="Europe/Paris",
        services=[ServiceRef(id=s, name=s.title()) for s in services],
        version=version,
    )


def offered(service_id: str, name: str) -> Service:
    return service().model_copy(update={"id": service_id, "name": name})


def test_a_service_is_listed_renamed_in_place_and_unlisted_when_retired() -> None:
    added = rules.directory_entry(entry("one"), offered("two", "Two"), None)
    renamed = rules.directory_entry(added, offered("one", "Uno"), None)
    retired = rules.directory_entry(renamed, rules.retire_service(offered("one", "Uno"), NOW), None)

    assert [(s.id, s.name) for s in renamed.services] == [("one", "Uno"), ("two", "Two")]
    assert [s.id for s in retired.services] == ["two"]
    assert (added.version, renamed.version, retired.version) == (4, 5, 6)
    assert (retired.name, retired.timezone) == ("Carol", "Europe/Paris")


def test_the_coach_s_own_change_refreshes_their_name_and_zone() -> None:
    me = Person(id=COACH.id, name="Carol Smith", timezone="Asia/Tokyo")

    after = rules.directory_entry(entry("one"), offered("one", "One"), me)

    assert (after.name, after.timezone) == ("Carol Smith", "Asia/Tokyo")


def test_a_coach_offers_at_most_fifty_services_at_once() -> None:
    full = entry(*(f"s{n}" for n in range(MAX_ACTIVE_SERVICES)))

    with pytest.raises(ServiceLimitReached):
        rules.directory_entry(full, offered("one-more", "More"), None)
    assert rules.directory_entry(full, offered("s0", "Renamed"), None).services[0].name == "Renamed"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Zoë Martin", "zoe martin"),
        ("  ZOE\tMARTIN ", "zoe martin"),
        ("Ståle Ødegård", "stale ødegard"),  # Ø is a letter of its own, not O with a mark
        ("Straße", "strasse"),
        ("Ann\u0000Lee", "annlee"),
    ],
)
def test_names_fold_without_case_accents_or_extra_spaces(name: str, expected: str) -> None:
    assert folded(name) == expected


def test_a_shorter_name_sorts_before_a_longer_one_it_starts() -> None:
    assert directory_position("Ann", "z") < directory_position("Ann Lee", "a")
    assert directory_position("Ann Lee", "a") < directory_position("Anna", "a")
