"""The API's OpenAPI document and a browsable page, merged from every function's routes.

The schema is generated from the resolvers of the sibling functions (packaged with this one),
never written by hand. Both routes are public: they describe the API, not anyone's data.
"""

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from coaching import http
from coaching.observability import logger

FUNCTIONS = Path(__file__).resolve().parent.parent

app = APIGatewayHttpResolver()
http.setup(app)
app.configure_openapi_merge(
    path=str(FUNCTIONS),
    pattern="app.py",
    recursive=True,
    exclude=["docs"],
    title="Coaching sessions API",
    version="1.0.0",
    description="Cancel, reschedule and refund booked coaching sessions; credit accounts.",
    on_conflict="error",
)
app.enable_swagger(path="/docs", title="Coaching sessions API")


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=app.get_openapi_merge_json_schema(),
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
