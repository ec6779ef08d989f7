"""The webhooks' plumbing in template.yaml: the bus's rule feeds a queue with a dead letter queue
and an alarm, the delivery function reads it with partial batch responses and retries on a
schedule, each function may do what it needs and no more, and the local stack's loopback
setting is never deployed."""

from coaching.events.webhooks import delivery
from local.template import functions, load, resources
from tests.unit.template_policies import granted

TEMPLATE = load()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
DELIVER = FUNCTIONS["DeliverFunction"]["Properties"]
ROUTES = FUNCTIONS["WebhooksFunction"]["Properties"]


def test_the_rule_sends_every_domain_event_to_the_queue_and_what_it_cannot_to_the_dlq() -> None:
    (rule,) = resources(TEMPLATE, "AWS::Events::Rule").values()
    props = rule["Properties"]

    assert props["EventBusName"] == {"Ref": "EventBus"}
    assert props["EventPattern"] == {"source": ["coaching.sessions"]}
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": "WebhookQueue.Arn"}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": "WebhookDeadLetterQueue.Arn"}}
    policy = RESOURCES["WebhookQueuePolicy"]["Properties"]
    (allow,) = policy["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": "WebhookRule.Arn"}}}


def test_the_queue_outlasts_the_function_and_parks_what_keeps_failing() -> None:
    queue = RESOURCES["WebhookQueue"]["Properties"]
    timeout = functions(TEMPLATE)["DeliverFunction"].timeout

    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert timeout < delivery.LEASE_SECONDS  # no second claim while the invocation may run
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": "WebhookDeadLetterQueue.Arn"
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 3
    alarm = RESOURCES["WebhookDeadLetterAlarm"]["Properties"]
    assert alarm == RESOURCES["NotifyDeadLetterAlarm"]["Properties"] | {
        "AlarmDescription": alarm["AlarmDescription"],
        "Dimensions": [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": "WebhookDeadLetterQueue.QueueName"}}
        ],
    }


def test_the_function_reads_the_queue_in_partial_batches_and_retries_every_minute() -> None:
    events = DELIVER["Events"]
    queue = events["Events"]
    assert queue["Type"] == "SQS"
    assert queue["Properties"]["Queue"] == {"Fn::GetAtt": "WebhookQueue.Arn"}
    assert queue["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["Properties"]["BatchSize"] <= 10
    assert events["Retries"] == {
        "Type": "Schedule",
        "Properties": {"Schedule": "rate(1 minute)", "Description": "Webhook retries that are due"},
    }


def test_the_delivery_function_may_do_what_delivering_needs_and_no_more() -> None:
    allowed = granted(DELIVER)
    table = repr({"Fn::GetAtt": "WebhooksTable.Arn"})

    assert {action for action, resource in allowed if resource == table} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    assert ("dynamodb:Query", repr({"Fn::Sub": "${WebhooksTable.Arn}/index/Due"})) in allowed
    assert not any(a in ("dynamodb:DeleteItem", "dynamodb:Scan") for a, _ in allowed)
    assert {a for a, _ in allowed if a.startswith("sqs:")} == {"sqs:SendMessage"}
    assert {a for a, _ in allowed if a.startswith("ses:")} == {"ses:SendEmail"}
    assert not any("SessionsTable" in r or "LedgerTable" in r for _, r in allowed)


def test_the_routes_function_touches_its_table_the_key_records_and_the_queue_only() -> None:
    allowed = granted(ROUTES)

    touched = {r for _, r in allowed}
    assert touched == {
        repr({"Fn::GetAtt": "WebhooksTable.Arn"}),
        repr({"Fn::Sub": "${WebhooksTable.Arn}/index/Endpoints"}),
        repr({"Fn::GetAtt": "IdempotencyTable.Arn"}),
        repr({"Fn::GetAtt": "WebhookQueue.Arn"}),
    }
    assert not any(a.startswith("ses:") for a, _ in allowed)


def test_the_loopback_setting_belongs_to_the_local_stack_and_is_never_deployed() -> None:
    text = repr(TEMPLATE)

    assert "WEBHOOKS_ALLOW_LOOPBACK" not in text
    for function in functions(TEMPLATE).values():
        assert "WEBHOOKS_ALLOW_LOOPBACK" not in function.environment
