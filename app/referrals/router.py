import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import Field

from app.accounts.deps import Authenticated
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.inputs import Instant
from app.core.pagination import PageDep
from app.core.schemas import RequestModel
from app.core.types import utcnow
from app.idempotency.service import Idempotent, IdempotentRoute
from app.referrals import service, summary, wellbeing
from app.referrals.models import Referral, ReferralStatus, WellbeingStage
from app.referrals.schemas import ReferralCreate, ReferralPage, ReferralPublic, ReferralTransition

router = APIRouter(route_class=IdempotentRoute, prefix="/v1/referrals", tags=["referrals"])


def readable_referral(
    session: SessionDep,
    principal: Authenticated,
    referral_id: Annotated[uuid.UUID, Path(description="The referral's id")],
) -> Referral:
    return service.get_readable(session, principal, referral_id)


ReadableReferral = Annotated[Referral, Depends(readable_referral)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    dependencies=[Idempotent],
)
def create_referral(
    session: SessionDep, principal: Authenticated, body: ReferralCreate, response: Response
) -> ReferralPublic:
    """Refer a person to an activity (link workers). The referral is `sent`, or
    `waitlisted` when the activity is running a waiting list or is full and waitlists;
    a paused, closed, full-and-refusing or archived activity is a 409 saying why.
    Contact details and the note are encrypted at rest and deleted after the retention
    period."""
    referral = service.create_referral(session, principal, body, utcnow())
    response.headers["Location"] = f"/v1/referrals/{referral.id}"
    return service.to_public(session, referral)


@router.get("", responses=problem_responses(401, 403, 422))
def list_referrals(
    session: SessionDep,
    principal: Authenticated,
    page: PageDep,
    status_: Annotated[
        list[ReferralStatus], Query(alias="status", max_length=9, description="Repeatable")
    ] = [],  # noqa: B006 - FastAPI copies the default per request
    organisation: Annotated[uuid.UUID | None, Query(description="Received by")] = None,
    activity: Annotated[uuid.UUID | None, Query(description="For this activity")] = None,
    need: Annotated[uuid.UUID | None, Query(description="Addressing this need term")] = None,
    created_after: Annotated[Instant | None, Query(description="Sent at or after")] = None,
    created_before: Annotated[Instant | None, Query(description="Sent before")] = None,
    changed_since: Annotated[
        Instant | None, Query(description="Status changed after this time: poll for news")
    ] = None,
    awaiting_response: Annotated[
        bool | None, Query(description="true: only `sent`; false: all but `sent`")
    ] = None,
    person: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Your reference for the person (spacing, case and punctuation "
            "ignored): their referrals that you may see",
        ),
    ] = None,
) -> ReferralPage:
    """Referrals, newest first: a link worker sees those they and their team-mates sent
    (with each person's reference), an organisation's members those it received (without
    personal data), admins all."""
    filters = service.ReferralFilters(
        statuses=tuple(status_),
        organisation_id=organisation,
        activity_id=activity,
        need_id=need,
        created_after=created_after,
        created_before=created_before,
        changed_since=changed_since,
        awaiting_response=awaiting_response,
        person=person,
    )
    return service.list_referrals(session, principal, filters, page)


@router.get("/{referral_id}", responses=problem_responses(401, 404, 422))
def get_referral(session: SessionDep, referral: ReadableReferral) -> ReferralPublic:
    """One referral with contact details, note and history (the referring link worker, the
    receiving organisation's members, admins; anyone else gets 404). Each read is audited."""
    return service.to_public(session, referral)


@router.post("/{referral_id}/transitions", responses=problem_responses(401, 403, 404, 409, 422))
def transition_referral(
    session: SessionDep,
    principal: Authenticated,
    referral: ReadableReferral,
    body: ReferralTransition,
) -> ReferralPublic:
    """Move a referral on. The provider: `sent` → `accepted` | `declined` (with a reason)
    | `waitlisted`; `waitlisted` → `accepted` | `declined`; `accepted` → `attended` |
    `did_not_attend`; those → `completed`. The link worker: `withdrawn` from any open
    state. Accepting takes a place (409 when none is left); `did_not_attend`, `completed`
    and `withdrawn` give it back as the organisation's capacity settings say. An illegal
    move is a 409 naming the current state."""
    referral = service.transition(session, principal, referral, body, utcnow())
    return service.to_public(session, referral)


class Handover(RequestModel):
    model_config = {
        "json_schema_extra": {"examples": [{"to_user_id": "8b1f2c3d-4e5f-4a6b-9c7d-0e1f2a3b4c5d"}]}
    }

    to_user_id: uuid.UUID = Field(description="A link worker in a team with the referrer")


@router.post("/{referral_id}/handover", responses=problem_responses(401, 403, 404, 422))
def hand_over_referral(
    session: SessionDep, principal: Authenticated, referral: ReadableReferral, body: Handover
) -> ReferralPublic:
    """Hand a referral to a colleague: it becomes theirs to follow up (the referrer, a
    team-mate of theirs, or an admin; audited). The colleague must be an active link
    worker who shares a team with the current referrer."""
    return service.to_public(
        session, service.hand_over(session, principal, referral, body.to_user_id)
    )


@router.get(
    "/{referral_id}/summary", responses={**summary.RESPONSES, **problem_responses(401, 404, 422)}
)
def referral_summary(
    session: SessionDep,
    referral: ReadableReferral,
    fmt: Annotated[summary.SummaryFormat, Depends(summary.summary_format)],
    name: Annotated[
        bool, Query(description="Greet the person by their first name (an audited read)")
    ] = False,
) -> Response:
    """What to give the person: what the activity is, where, when next, how to get there,
    who to contact, whether it is step-free and what it costs, in plain words, to print,
    email or text. Nothing about the person unless `name=true`."""
    first_name = service.first_name(session, referral) if name else None
    return summary.respond(summary.build(session, referral.activity_id, first_name), fmt)


@router.put("/{referral_id}/wellbeing/{stage}", responses=problem_responses(401, 404, 409, 422))
def record_wellbeing(
    session: SessionDep,
    principal: Authenticated,
    referral: ReadableReferral,
    stage: Annotated[
        WellbeingStage,
        Path(description="baseline (at referral), follow_up (an agreed follow-up) or completion"),
    ],
    body: wellbeing.WellbeingIn,
) -> wellbeing.Wellbeing:
    """Record the person's ONS4 personal wellbeing answers for a stage (a later follow-up
    replaces the earlier), by anyone who may read the referral; answers the whole record
    with the change since the baseline. The audit log says who recorded it and when, not
    the answers."""
    wellbeing.record(session, principal, referral, stage, body, body.measured_on)
    return wellbeing.read(session, referral)


@router.get("/{referral_id}/wellbeing", responses=problem_responses(401, 404, 422))
def get_wellbeing(session: SessionDep, referral: ReadableReferral) -> wellbeing.Wellbeing:
    """The person's ONS4 answers at each stage and the change (completion, else the
    follow-up, minus the baseline). An audited read."""
    return wellbeing.read(session, referral)
