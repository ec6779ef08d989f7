"""The cold-start bench serves every function of the template one first request
(``bench.first_request``): a function added to the template without one stops the section."""

from pathlib import Path

from bench import first_request
from local.template import functions


def test_every_function_in_the_template_has_a_first_request(tmp_path: Path) -> None:
    state, requests, baseline = first_request.prepare(tmp_path)

    assert set(requests) == {f.name for f in functions().values()}
    http = {name: r for name, r in requests.items() if r.status is not None}
    assert all(r.event["requestContext"]["http"]["method"] for r in http.values())
    manage = requests["ManageFunction"].event
    assert manage["headers"]["authorization"].startswith("Bearer ")
    assert "authorizer" not in manage["requestContext"]  # outside the JWT authorizer
    assert state.exists() and baseline["TableName"]
