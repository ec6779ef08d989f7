"""The template's functions as the local stack, the tests and the bench read them (one reader)."""

from local import template
from local.lambdas import LambdaService
from local.routes import Route, find, http_routes


def test_every_function_names_a_handler_file_in_its_folder() -> None:
    found = template.functions()

    assert {"CancelFunction", "NotifyFunction", "SweepFunction", "DocsFunction"} <= set(found)
    for function in found.values():
        assert function.module_path.is_file(), function
        assert (template.TEMPLATE.parent / "functions" / function.folder).is_dir(), function
    assert found["DocsFunction"].folder == "docs"


def test_a_function_without_its_own_timeout_takes_the_globals_one() -> None:
    loaded = template.load()
    default = loaded["Globals"]["Function"]["Timeout"]
    for name, function in template.functions(loaded).items():
        own = loaded["Resources"][name]["Properties"].get("Timeout")
        assert function.timeout == float(own if own is not None else default), name
    assert any(f.timeout != default for f in template.functions(loaded).values())


def test_the_lambda_service_and_the_routes_read_the_same_functions() -> None:
    loaded = template.load()
    functions = template.functions(loaded)

    assert LambdaService(loaded).functions == functions
    for route in http_routes(loaded):
        function = functions[route.function]
        assert (route.code_uri, route.handler, route.timeout) == (
            function.code_uri,
            function.handler,
            function.timeout,
        )


def _route(path: str) -> Route:
    return Route("GET", path, "F", "functions/f/", "app.handler", True, 10)


def test_a_greedy_variable_takes_the_rest_of_the_path_and_only_what_nothing_else_takes() -> None:
    greedy, page, named = _route("/app/{proxy+}"), _route("/app"), _route("/app/{name}/x")
    routes = [greedy, page, named]

    assert find(routes, "GET", "/app") == (page, {})
    assert find(routes, "GET", "/app/a/x") == (named, {"name": "a"})
    assert find(routes, "GET", "/app/a/b/c.js") == (greedy, {"proxy": "a/b/c.js"})
    assert find(routes, "GET", "/app/") == (greedy, {"proxy": ""})  # the rest may be nothing
    assert find(routes, "GET", "/apps") is None
    assert find(routes, "POST", "/app/x.js") is None


def test_the_template_serves_the_web_component_under_a_greedy_route() -> None:
    routes = http_routes()

    found = find(routes, "GET", "/app/coaching-sessions.js")

    assert found is not None and found[0].function == "AppFunction" and found[0].public
    assert found[1] == {"proxy": "coaching-sessions.js"}
    assert find(routes, "GET", "/openapi.json")[0].function == "DocsFunction"  # type: ignore[index]
