"""Credit accounts: the ones a caller can use, group accounts, balances, ledgers and grants."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit

from coaching import operations, runtime
from coaching.observability import metrics
from coaching.web import http
from coaching.web.account_api import (
    AccountChangeList,
    AccountList,
    AccountView,
    CreateAccountBody,
    EntryView,
    GrantBody,
    GroupPatchBody,
    LedgerPage,
    account_change_view,
    account_view,
    entry_view,
)
from coaching.web.api import PathId

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)


@app.get("/accounts", summary="Accounts the caller may spend from or runs", tags=["Accounts"])
def list_accounts() -> AccountList:
    caller = http.caller(app)
    accounts = operations.accounts_of(runtime.storage(), caller)
    now = http.now(app)
    return AccountList(items=[account_view(a, caller, now) for a in accounts])


@app.post("/accounts", status_code=201, summary="Create a group account", tags=["Accounts"])
def create_account(body: Annotated[CreateAccountBody, Body()]) -> AccountView:
    caller = http.caller(app)
    now = http.now(app)
    account = operations.create_group_account(
        runtime.storage(),
        caller,
        name=body.name,
        member_ids=body.member_ids,
        admin_ids=body.admin_ids,
        now=now,
        refund_grace_days=body.refund_grace_days,
    )
    return account_view(account, caller, now)


@app.get(
    "/accounts/<account_id>",
    summary="An account, its balance and the lots it is held in",
    tags=["Accounts"],
)
def get_account(account_id: PathId) -> AccountView:
    caller = http.caller(app)
    account = operations.visible_account(runtime.storage(), caller, account_id)
    return account_view(account, caller, http.now(app))


@app.patch(
    "/accounts/<account_id>", summary="Rename a group, add or remove people", tags=["Accounts"]
)
def edit_group(account_id: PathId, body: Annotated[GroupPatchBody, Body()]) -> AccountView:
    caller = http.caller(app)
    now = http.now(app)
    account = operations.edit_group(runtime.storage(), caller, account_id, body.edit(), now)
    return account_view(account, caller, now)


@app.get(
    "/accounts/<account_id>/changes",
    summary="A group's changes of name and people, newest first",
    tags=["Accounts"],
)
def group_changes(
    account_id: PathId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> AccountChangeList:
    caller = http.caller(app)
    changes, token = operations.group_changes(
        runtime.storage(), caller, account_id, limit, next_token
    )
    return AccountChangeList(items=[account_change_view(c) for c in changes], next_token=token)


@app.get(
    "/accounts/<account_id>/ledger", summary="An account's entries, newest first", tags=["Accounts"]
)
def ledger(
    account_id: PathId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> LedgerPage:
    caller = http.caller(app)
    entries, token = operations.ledger_of(runtime.storage(), caller, account_id, limit, next_token)
    return LedgerPage(items=[entry_view(e) for e in entries], next_token=token)


@app.post(
    "/accounts/<account_id>/grants",
    status_code=201,
    summary="Grant credits, that expire or not",
    tags=["Accounts"],
)
def grant(account_id: PathId, body: Annotated[GrantBody, Body()]) -> EntryView:
    caller = http.caller(app)
    entry = operations.grant(
        runtime.storage(),
        caller,
        account_id,
        body.credits,
        body.note,
        http.now(app),
        expires_at=body.expires_at,
        valid_days=body.valid_days,
    )
    metrics.add_metric(name="CreditsGranted", unit=MetricUnit.Count, value=body.credits)
    return entry_view(entry)


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
