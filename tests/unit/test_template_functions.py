"""The template's functions as the local stack, the tests and the bench read them (one reader)."""

from local import template
from local.lambdas import LambdaService
from local.routes import http_routes


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
