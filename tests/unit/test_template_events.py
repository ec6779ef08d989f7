"""The domain events' plumbing in template.yaml: a bus, a function that may put on it alone, and
stream mappings retried and dead-lettered the way the emails' mapping is."""

import json

from local.template import load, resources

TEMPLATE = load()
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
PUBLISH = FUNCTIONS["PublishFunction"]["Properties"]
NOTIFY_MAPPING = FUNCTIONS["NotifyFunction"]["Properties"]["Events"]["SessionChanges"]


def test_the_function_may_only_put_events_and_only_on_the_bus() -> None:
    (bus,) = resources(TEMPLATE, "AWS::Events::EventBus")
    (policy,) = PUBLISH["Policies"]

    assert policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": {"Fn::GetAtt": f"{bus}.Arn"},
        }
    ]
    assert PUBLISH["Environment"]["Variables"] == {"EVENT_BUS_NAME": {"Ref": bus}}


def test_both_streams_are_read_with_the_emails_retries_and_a_dead_letter_queue() -> None:
    mappings = PUBLISH["Events"]
    streams = {m["Properties"]["Stream"]["Fn::GetAtt"] for m in mappings.values()}
    assert streams == {"SessionsTable.StreamArn", "LedgerTable.StreamArn"}
    # (retried alike; how many batches of a shard run at once is each mapping's own: the
    # emails' take reminders in bursts, the events' go out one batch of a shard at a time)
    expected = {
        key: value
        for key, value in NOTIFY_MAPPING["Properties"].items()
        if key not in ("Stream", "DestinationConfig", "FilterCriteria", "ParallelizationFactor")
    }
    for mapping in mappings.values():
        assert mapping["Type"] == "DynamoDB"
        props = mapping["Properties"]
        assert {k: v for k, v in props.items() if k in expected} == expected
        destination = props["DestinationConfig"]["OnFailure"]
        assert destination == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": "PublishDeadLetterQueue.Arn"},
        }
    queue = TEMPLATE["Resources"]["PublishDeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"


def test_the_ledger_stream_lets_only_new_grants_and_expiries_through() -> None:
    ledger = TEMPLATE["Resources"]["LedgerTable"]["Properties"]
    assert ledger["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    (pattern,) = PUBLISH["Events"]["CreditGrants"]["Properties"]["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"entity": {"S": ["ENTRY"]}, "kind": {"S": ["GRANT", "EXPIRE"]}}},
    }


def test_the_notices_about_expiring_credits_reach_the_notifier_alone_and_as_emails_do() -> None:
    mapping = FUNCTIONS["NotifyFunction"]["Properties"]["Events"]["CreditNotices"]
    props = mapping["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": "LedgerTable.StreamArn"}
    (pattern,) = props["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"entity": {"S": ["NOTICE"]}}},
    }
    # Retried, bisected and dead-lettered exactly as the sessions' emails are.
    own = ("Stream", "FilterCriteria")
    sessions = NOTIFY_MAPPING["Properties"]
    assert {k: v for k, v in props.items() if k not in own} == {
        k: v for k, v in sessions.items() if k not in own
    }
