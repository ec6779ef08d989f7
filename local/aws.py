"""The embedded AWS: moto on 127.0.0.1 holding what ``template.yaml`` declares.

Tables (with their indexes, streams and TTL), queues (with their visibility timeout, retention
and redrive policy), event buses, the rules on them with their targets, secrets and the SES
sender identity are created from the template's resources; functions get the environment the
template gives them, with each ``!Ref`` resolved to the local resource.
"""

import json
import os
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

import boto3

from local import template
from local.moto_server import SerializedMotoServer

REGION = "us-east-1"
PREFIX = "coaching-local-"
SHED_AFTER = 2.0
"""Seconds a request waits for the embedded AWS before it is answered 503 and retried: less than
the functions' 3 s read timeout (``coaching.runtime.CONFIG``), so that no request is applied
after its caller has given up on it and sent it again."""


@dataclass
class EmbeddedAws:
    server: SerializedMotoServer
    loaded: dict[str, Any]
    physical: dict[str, str] = field(default_factory=dict)
    """What each template ``Ref`` resolves to: table names, queue URLs, parameter values."""
    stream_arns: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    bus_arns: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.server.url)  # type: ignore[call-overload]

    def resolve(self, value: Any) -> Any:
        """A template value with ``Ref`` (and the stream ``GetAtt``) made local."""
        if isinstance(value, dict) and "Ref" in value:
            return self.physical[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            resource, attribute = target.split(".", 1) if isinstance(target, str) else target
            if attribute == "StreamArn":
                return self.stream_arns[resource]
            if attribute == "Arn" and resource in self.queue_arns:
                return self.queue_arns[resource]
            if attribute == "Arn" and resource in self.bus_arns:
                return self.bus_arns[resource]
        return value

    def queue_url(self, arn: str) -> str:
        """The URL of the template's queue with this ARN: what SQS's calls take."""
        for logical, queue_arn in self.queue_arns.items():
            if queue_arn == arn:
                return str(self.physical[logical])
        raise KeyError(f"no queue of the template has the ARN {arn}")

    def function_environment(self) -> dict[str, str]:
        """Every function's variables (Globals first); the local stack runs them in one process."""
        variables: dict[str, Any] = dict(
            self.loaded.get("Globals", {})
            .get("Function", {})
            .get("Environment", {})
            .get("Variables", {})
        )
        functions = template.resources(self.loaded, "AWS::Serverless::Function")
        for resource in functions.values():
            variables |= resource["Properties"].get("Environment", {}).get("Variables", {})
        return {name: str(self.resolve(value)) for name, value in variables.items()}


def generated_secret(spec: dict[str, Any]) -> str:
    """A secret's value as Secrets Manager makes it from the template's
    ``GenerateSecretString``: the template's JSON with a fresh random string under its key.
    The local stack's own, made at each start and never written anywhere."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += string.punctuation
    length = int(spec.get("PasswordLength", 32))
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    document = json.loads(spec.get("SecretStringTemplate", "{}"))
    document[spec["GenerateStringKey"]] = value
    return json.dumps(document)


def create_secrets(client: Any, loaded: dict[str, Any], prefix: str = PREFIX) -> dict[str, str]:
    """The template's ``AWS::SecretsManager::Secret``s, each generated as AWS would, in moto:
    their ARNs (what ``!Ref`` gives) by logical id."""
    arns = {}
    for logical, resource in template.resources(loaded, "AWS::SecretsManager::Secret").items():
        value = generated_secret(resource["Properties"]["GenerateSecretString"])
        created = client.create_secret(Name=prefix + logical, SecretString=value)
        arns[logical] = created["ARN"]
    return arns


QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")


def queue_attributes(aws: EmbeddedAws, properties: dict[str, Any]) -> dict[str, str]:
    """The template's settings of a queue that change what its consumer sees, as SQS takes them:
    timeouts and delays, and the redrive policy (its dead letter queue made local)."""
    found = {name: str(properties[name]) for name in QUEUE_ATTRIBUTES if name in properties}
    redrive = properties.get("RedrivePolicy")
    if redrive:
        found["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": aws.resolve(redrive["deadLetterTargetArn"]),
                "maxReceiveCount": int(redrive["maxReceiveCount"]),
            }
        )
    return found


def create_rule(aws: EmbeddedAws, events: Any, name: str, properties: dict[str, Any]) -> None:
    """A rule of the template on its bus, with its targets (each by its local ARN). The targets'
    retry policy and dead letter queue are EventBridge's own delivery settings, which moto
    does not apply: it puts an event on a queue at once or not at all."""
    bus = properties.get("EventBusName")
    events.put_rule(
        Name=name,
        EventBusName=str(aws.resolve(bus)) if bus else "default",
        EventPattern=json.dumps(properties["EventPattern"]),
        State=properties.get("State", "ENABLED"),
    )
    events.put_targets(
        Rule=name,
        EventBusName=str(aws.resolve(bus)) if bus else "default",
        Targets=[
            {"Id": str(target["Id"]), "Arn": str(aws.resolve(target["Arn"]))}
            for target in properties.get("Targets", [])
        ],
    )


def _parameter_defaults(loaded: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(spec.get("Default", "")) for name, spec in loaded.get("Parameters", {}).items()
    }


def start(host: str = "127.0.0.1", port: int = 0, *, prefix: str = PREFIX) -> EmbeddedAws:
    """Start moto and create the template's tables, queues, buses and sender identity in it,
    each named ``prefix`` + its logical id. moto's backends are one per process, so two stacks
    started in one process (tests) need prefixes of their own."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        os.environ[name] = value
    server = SerializedMotoServer(host, port, shed_after=SHED_AFTER).start()
    aws = EmbeddedAws(server=server, loaded=template.load())
    aws.physical |= _parameter_defaults(aws.loaded)
    aws.physical["AWS::Region"] = REGION

    dynamodb = aws.client("dynamodb")
    names = {logical: prefix + logical for logical in template.table_definitions(aws.loaded)}
    template.create_tables(dynamodb, names)
    aws.physical |= names
    for logical, name in names.items():
        table = dynamodb.describe_table(TableName=name)["Table"]
        if "LatestStreamArn" in table:
            aws.stream_arns[logical] = table["LatestStreamArn"]

    sqs = aws.client("sqs")
    queues = template.resources(aws.loaded, "AWS::SQS::Queue")
    for logical in queues:
        url = sqs.create_queue(QueueName=prefix + logical)["QueueUrl"]
        aws.physical[logical] = url
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        aws.queue_arns[logical] = attributes["Attributes"]["QueueArn"]
    for logical, queue in queues.items():  # once every queue exists: a redrive names another
        settings = queue_attributes(aws, queue.get("Properties", {}))
        if settings:
            sqs.set_queue_attributes(QueueUrl=aws.physical[logical], Attributes=settings)

    events = aws.client("events")
    for logical in template.resources(aws.loaded, "AWS::Events::EventBus"):
        aws.physical[logical] = prefix + logical
        aws.bus_arns[logical] = events.create_event_bus(Name=prefix + logical)["EventBusArn"]
    for logical, rule in template.resources(aws.loaded, "AWS::Events::Rule").items():
        create_rule(aws, events, prefix + logical, rule["Properties"])

    aws.physical |= create_secrets(aws.client("secretsmanager"), aws.loaded, prefix)

    # A deployment verifies its sender identity in SES; so does the local stack.
    sender = aws.physical.get("SenderEmail")
    if sender:
        aws.client("sesv2").create_email_identity(EmailIdentity=sender)
    return aws
