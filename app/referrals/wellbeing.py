"""ONS4 personal wellbeing, asked at referral, at agreed follow-ups and at completion, and
the change since the first answer: what link workers are measured on. Recorded and read by
those who may read the referral (each read audited, like its personal data); the outcomes
report averages the change (app/reports/queries.py)."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, field_validator
from sqlmodel import Session, SQLModel, select

from app.accounts.principal import Principal
from app.audit.recorder import record_read
from app.core.inputs import Day
from app.referrals.models import ONS4_QUESTIONS, Ons4, Referral, WellbeingScore, WellbeingStage
from app.referrals.schemas import Ons4Answers
from app.search.schedule import uk_today

EXAMPLE = {"life_satisfaction": 4, "worthwhile": 5, "happiness": 3, "anxiety": 7}


class WellbeingIn(Ons4Answers):
    model_config = {"json_schema_extra": {"examples": [{**EXAMPLE, "measured_on": "2026-11-20"}]}}

    measured_on: Day | None = Field(
        default=None, description="When the person answered (UK date); default today"
    )

    @field_validator("measured_on")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > uk_today():
            raise ValueError("cannot be in the future")
        return value


class WellbeingMeasure(Ons4):
    stage: WellbeingStage
    measured_on: date
    updated_at: datetime


class Ons4Change(SQLModel):
    """The later answers minus the first, question by question (for anxiety a fall is the
    improvement)."""

    life_satisfaction: int
    worthwhile: int
    happiness: int
    anxiety: int


class Wellbeing(SQLModel):
    referral_id: uuid.UUID
    baseline: WellbeingMeasure | None
    follow_up: WellbeingMeasure | None
    completion: WellbeingMeasure | None
    compared: Annotated[
        WellbeingStage | None,
        Field(
            description="The stage `change` compares with the baseline: completion, else "
            "the follow-up; null until there are two"
        ),
    ]
    change: Ons4Change | None


def record(
    session: Session,
    principal: Principal,
    referral: Referral,
    stage: WellbeingStage,
    answers: Ons4,
    measured_on: date | None,
) -> None:
    """Store the answers for ``stage`` (replacing any earlier ones for it) and the change
    they make on the referral. Two stages recorded at once must not leave a change worked
    out from one of them: the referral's row is locked first (PostgreSQL), and the answers
    are read back after this write has begun (SQLite's writes take turns)."""
    session.execute(select(Referral.id).where(Referral.id == referral.id).with_for_update())
    score = session.exec(
        select(WellbeingScore).where(
            WellbeingScore.referral_id == referral.id, WellbeingScore.stage == stage
        )
    ).first() or WellbeingScore(
        referral_id=referral.id, stage=stage, organisation_id=referral.organisation_id
    )
    values = {name: getattr(answers, name) for name in ONS4_QUESTIONS}
    values["measured_on"] = measured_on or uk_today()
    values["recorded_by_id"] = principal.id if principal.kind == "user" else None
    score.sqlmodel_update(values)
    session.add(score)
    session.flush()
    _, change = _change(_scores(session, referral))
    for question in ONS4_QUESTIONS:
        setattr(referral, f"{question}_change", getattr(change, question) if change else None)
    session.add(referral)
    session.flush()


def _scores(session: Session, referral: Referral) -> dict[WellbeingStage, WellbeingScore]:
    return {
        s.stage: s
        for s in session.exec(
            select(WellbeingScore).where(WellbeingScore.referral_id == referral.id)
        )
    }


def _change(
    scores: dict[WellbeingStage, WellbeingScore],
) -> tuple[WellbeingStage | None, Ons4Change | None]:
    """The later answers (completion, else the follow-up) minus the baseline."""
    baseline = scores.get(WellbeingStage.baseline)
    later = next(
        (s for s in (WellbeingStage.completion, WellbeingStage.follow_up) if s in scores), None
    )
    if baseline is None or later is None:
        return None, None
    return later, Ons4Change(
        **{q: getattr(scores[later], q) - getattr(baseline, q) for q in ONS4_QUESTIONS}
    )


def read(session: Session, referral: Referral) -> Wellbeing:
    """Every stage recorded and the change; the read is audited."""
    scores = _scores(session, referral)
    if scores:
        record_read(session, "referral", referral.id, referral.organisation_id, ["wellbeing"])
    compared, change = _change(scores)
    measures = {
        stage: WellbeingMeasure.model_validate(scores[stage]) if stage in scores else None
        for stage in WellbeingStage
    }
    return Wellbeing(
        referral_id=referral.id,
        baseline=measures[WellbeingStage.baseline],
        follow_up=measures[WellbeingStage.follow_up],
        completion=measures[WellbeingStage.completion],
        compared=compared,
        change=change,
    )
