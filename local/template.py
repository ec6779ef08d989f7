"""Reads ``template.yaml`` so that the local stack, the tests and the bench build what AWS would.

Tables (keys, indexes, streams, TTL) come from the template's ``AWS::DynamoDB::Table``
resources, functions (code, handler, timeout, events) from its ``AWS::Serverless::Function``
ones; nothing here repeats their definition.
"""

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !If ...) read as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data (a fresh copy each call: callers may change it)."""
    return copy.deepcopy(_load(path))


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 (safe loader)
    return loaded


def global_variables(template: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment every function gets from ``Globals`` whose values are plain text (a
    ``!Ref`` to a local resource is for the local stack to resolve; those are left out)."""
    template = template or load()
    variables = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


@dataclass(frozen=True)
class Function:
    name: str
    """The function's logical id in the template."""
    code_uri: str
    handler: str
    timeout: float
    events: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)
    """The variables Lambda sets for it: Globals', then its own; values may be intrinsics."""

    @property
    def folder(self) -> str:
        """The function's folder under ``functions/`` ("cancel"; "docs" for the docs handler
        that lives in ``functions/docs/`` with ``CodeUri: functions/``)."""
        module = self.handler.rpartition(".")[0]
        return (PurePosixPath(self.code_uri) / module).parent.name

    @property
    def module_path(self) -> Path:
        """The handler's source file."""
        module = self.handler.rpartition(".")[0]
        return TEMPLATE.parent / self.code_uri / f"{module}.py"


def functions(template: dict[str, Any] | None = None) -> dict[str, Function]:
    """The template's functions by logical id, in template order, Globals applied."""
    template = template or load()
    defaults = template.get("Globals", {}).get("Function", {})
    found = {}
    for name, resource in resources(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        found[name] = Function(
            name=name,
            code_uri=props["CodeUri"],
            handler=props["Handler"],
            timeout=float(props.get("Timeout", defaults.get("Timeout", 3))),
            events=props.get("Events", {}),
            environment={
                **defaults.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            },
        )
    return found


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``create_table`` arguments for each table, by logical id, with TTL settings beside."""
    template = template or load()
    definitions = {}
    for name, resource in resources(template, "AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        kwargs: dict[str, Any] = {
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        ttl = props.get("TimeToLiveSpecification")
        definitions[name] = {"create": kwargs, "ttl_attribute": ttl and ttl["AttributeName"]}
    return definitions


def create_tables(client: Any, names: Mapping[str, str], *, streams: bool = True) -> None:
    """Create the template's tables named in ``names`` (logical id -> physical name).

    ``streams=False`` leaves streams off: a table filled with 100,000 items for a benchmark has
    no use for 100,000 stream records.
    """
    for logical_id, definition in table_definitions().items():
        if logical_id not in names:
            continue
        create = dict(definition["create"])
        if not streams:
            create.pop("StreamSpecification", None)
        client.create_table(TableName=names[logical_id], **create)
        if definition["ttl_attribute"]:
            client.update_time_to_live(
                TableName=names[logical_id],
                TimeToLiveSpecification={
                    "Enabled": True,
                    "AttributeName": definition["ttl_attribute"],
                },
            )
