"""What a function in template.yaml is allowed to do, read from its inline ``Policies``."""

from typing import Any


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the function's inline policies (its ``Properties``)."""
    return [s for policy in function["Policies"] for s in policy["Statement"]]


def granted(function: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, resource) pairs, resources written as the template writes them."""
    found = set()
    for statement in statements(function):
        resources_ = statement["Resource"]
        for action in statement["Action"]:
            for resource in resources_ if isinstance(resources_, list) else [resources_]:
                found.add((action, repr(resource)))
    return found
