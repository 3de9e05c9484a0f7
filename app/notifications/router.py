import html
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import HTMLResponse

from app.accounts.deps import AdminPrincipal, Authenticated
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.idempotency.service import Idempotent, IdempotentRoute
from app.notifications import service
from app.notifications.schemas import (
    DeliveryPage,
    DeliveryPublic,
    NotificationPreferences,
    PingAccepted,
    PreferencesUpdate,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(route_class=IdempotentRoute, prefix="/v1", tags=["notifications"])
WebhookId = Annotated[uuid.UUID, Path(description="The webhook's id")]


@router.get("/me/notification-preferences", responses=problem_responses(401, 403))
def get_preferences(
    session: StatementSessionDep, principal: Authenticated
) -> NotificationPreferences:
    """How you hear of each kind of event by email: `immediately` (the default), in a
    `daily_digest`, or `off`. `applies_to_you` says whether your roles make you a recipient."""
    return service.preferences(session, principal)


@router.put("/me/notification-preferences", responses=problem_responses(401, 403, 422))
def put_preferences(
    session: SessionDep, principal: Authenticated, body: PreferencesUpdate
) -> NotificationPreferences:
    """Change how you hear of the kinds listed; others stay as they are."""
    return service.set_preferences(session, principal, body)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    dependencies=[Idempotent],
)
def create_webhook(
    session: SessionDep, principal: Authenticated, body: WebhookCreate, response: Response
) -> WebhookCreated:
    """Register an endpoint for chosen events. An organisation's admins register its
    webhooks, which hear only of events about that organisation; admins may register one
    for every event. Each delivery is a JSON POST `{"type", "timestamp", "data"}` signed
    the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
    HMAC-SHA256 with the secret returned here, once). A 2xx answer within the timeout
    counts as delivered; anything else is retried with backoff, and after repeated
    failures the webhook is switched off and its owners are emailed."""
    created = service.create_webhook(session, principal, body)
    response.headers["Location"] = f"/v1/webhooks/{created.id}"
    return created


@router.get("/webhooks", responses=problem_responses(401, 403, 422))
def list_webhooks(
    session: StatementSessionDep,
    principal: Authenticated,
    page: PageDep,
    organisation_id: uuid.UUID | None = None,
) -> WebhookPage:
    """The webhooks you manage: your organisations' (organisation admins) or all (admins)."""
    return service.list_webhooks(session, principal, organisation_id, page)


@router.get("/webhooks/{webhook_id}", responses=problem_responses(401, 404, 422))
def get_webhook(
    session: StatementSessionDep, principal: Authenticated, webhook_id: WebhookId
) -> WebhookPublic:
    return WebhookPublic.model_validate(service.get_webhook(session, principal, webhook_id))


@router.patch("/webhooks/{webhook_id}", responses=problem_responses(401, 404, 422))
def update_webhook(
    session: SessionDep, principal: Authenticated, webhook_id: WebhookId, body: WebhookUpdate
) -> WebhookPublic:
    """Change the URL, events or description, or switch it back on (`is_active: true`,
    which also clears its failure count)."""
    hook = service.get_webhook(session, principal, webhook_id)
    return WebhookPublic.model_validate(service.update_webhook(session, hook, body.changes()))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
)
def delete_webhook(session: SessionDep, principal: Authenticated, webhook_id: WebhookId) -> None:
    """Remove the webhook and its delivery log."""
    service.delete_webhook(session, service.get_webhook(session, principal, webhook_id))


@router.post(
    "/webhooks/{webhook_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 404, 422),
)
def ping_webhook(
    session: SessionDep, principal: Authenticated, webhook_id: WebhookId
) -> PingAccepted:
    """Send a signed `webhook.ping` to this webhook (even when switched off), through the
    worker; its result shows in the delivery log within seconds."""
    hook = service.get_webhook(session, principal, webhook_id)
    event_id = service.ping(session, hook)
    return PingAccepted(event_id=event_id, deliveries_url=f"/v1/webhooks/{hook.id}/deliveries")


@router.get("/webhooks/{webhook_id}/deliveries", responses=problem_responses(401, 404, 422))
def list_webhook_deliveries(
    session: StatementSessionDep, principal: Authenticated, webhook_id: WebhookId, page: PageDep
) -> DeliveryPage:
    """Every delivery to this webhook, newest first: status, attempts, the endpoint's
    answer and why the last attempt failed."""
    hook = service.get_webhook(session, principal, webhook_id)
    return service.webhook_deliveries(session, hook, page)


@router.get("/notifications/failed", responses=problem_responses(401, 403, 422))
def list_failed(
    session: StatementSessionDep, _admin: AdminPrincipal, page: PageDep
) -> DeliveryPage:
    """Deliveries that ran out of attempts (or whose webhook was switched off). Admins."""
    return service.failed_deliveries(session, page)


@router.post(
    "/notifications/failed/{delivery_id}/retry",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def retry_failed(
    session: SessionDep, _admin: AdminPrincipal, delivery_id: uuid.UUID
) -> DeliveryPublic:
    """Try a failed delivery again from its first attempt. Admins."""
    return service.retry_failed(session, delivery_id)


# --- the one-click link in freshness emails -------------------------------------------------

Token = Annotated[
    str, Query(min_length=1, max_length=2000, description="The token from the email's link")
]
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
</head><body><main><h1>{title}</h1><p>{text}</p>{form}</main></body></html>"""
_HTML_RESPONSES = {
    code: {"content": {"text/html": {}}, "description": text}
    for code, text in (
        (400, "The link is not valid"),
        (404, "The listing no longer exists"),
        (409, "The link was already used, or the listing is archived"),
        (410, "The link has expired"),
    )
}


def _page(title: str, text: str, status_code: int = 200, form: str = "") -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), text=html.escape(text), form=form),
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get(
    "/still-accurate",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **_HTML_RESPONSES, **problem_responses(422)},
)
def still_accurate_page(session: StatementSessionDep, token: Token) -> HTMLResponse:
    """The page a freshness email links to: names the listing and asks for one click.
    Opening it changes nothing (mail scanners open links); the button POSTs."""
    try:
        activity = service.still_accurate_activity(session, token)
    except service.LinkProblem as problem:
        return _page("Cannot confirm this listing", problem.detail, problem.status)
    form = (
        f'<form method="post" action="/v1/still-accurate?token={html.escape(token)}">'
        '<button type="submit">Yes, it is still accurate</button></form>'
    )
    return _page(
        f"Is {activity.name} still accurate?",
        "If the times, place, contact details and description are unchanged, confirm it "
        "below. Otherwise, sign in and update it.",
        form=form,
    )


@router.post(
    "/still-accurate",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **_HTML_RESPONSES, **problem_responses(422)},
)
def confirm_still_accurate(session: SessionDep, token: Token) -> HTMLResponse:
    """Confirm the one listing the link names, unchanged, as of now. The link works once
    and until it expires, needs no sign-in, and can do nothing else."""
    try:
        activity = service.confirm_still_accurate(session, token)
    except service.LinkProblem as problem:
        return _page("Cannot confirm this listing", problem.detail, problem.status)
    return _page("Thank you", f"{activity.name} is confirmed as still accurate.")
