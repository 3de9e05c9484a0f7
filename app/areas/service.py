"""Areas: keeping them (stewards and admins), and naming one in a request."""

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, or_
from sqlmodel import Session, select

from app.areas.models import Area, AreaKey, AreaKind, AreaPlace, OrganisationServedArea
from app.areas.schemas import AreaCreate, AreaPublic, AreaSummary
from app.audit.recorder import record_event
from app.core.errors import Conflict, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate_many
from app.core.types import utcnow
from app.geo.outcodes import centroid

SECTOR_DIGITS = "0123456789"


def normalise_place(value: str, field: str) -> str:
    """``"bs5"`` as ``"BS5"``, ``"bs5  6"`` as ``"BS5 6"``: a known district, or a sector of
    one; anything else is a 422 naming ``field``."""
    parts = value.strip().upper().split()
    if len(parts) == 1 and centroid(parts[0]) is not None:
        return parts[0]
    if len(parts) == 2 and centroid(parts[0]) is not None and parts[1] in SECTOR_DIGITS:
        return f"{parts[0]} {parts[1]}"
    raise InvalidField(
        field, f'{value!r} is not a postcode district ("BS5") or sector ("BS5 6")', "place"
    )


def keys_of(places: Iterable[str]) -> set[str]:
    """What ``places`` match: each sector, each district and its sectors 0 to 9."""
    keys: set[str] = set()
    for place in places:
        keys.add(place)
        if " " not in place:
            keys.update(f"{place} {digit}" for digit in SECTOR_DIGITS)
    return keys


def _places(values: Iterable[str]) -> list[str]:
    return sorted({normalise_place(v, f"body.places.{i}") for i, v in enumerate(values)})


def list_areas(
    session: Session,
    params: PageParams,
    kind: AreaKind | None = None,
    parent_id: uuid.UUID | None = None,
    q: str | None = None,
) -> Page[AreaPublic]:
    statement = select(Area).order_by(Area.kind, Area.name, Area.id)
    if kind:
        statement = statement.where(Area.kind == kind)
    if parent_id:
        statement = statement.where(Area.parent_id == parent_id)
    if q:
        pattern = f"%{q.strip()}%"
        statement = statement.where(or_(Area.name.ilike(pattern), Area.code.ilike(pattern)))
    return paginate_many(session, statement, params, lambda areas: public_many(session, areas))


def public_many(session: Session, areas: list[Area]) -> list[AreaPublic]:
    places: dict[uuid.UUID, list[str]] = {a.id: [] for a in areas}
    rows = session.exec(
        select(AreaPlace).where(AreaPlace.area_id.in_(list(places))).order_by(AreaPlace.prefix)
    )
    for row in rows:
        places[row.area_id].append(row.prefix)
    return [AreaPublic(**a.model_dump(), places=places[a.id]) for a in areas]


def public_one(session: Session, area: Area) -> AreaPublic:
    return public_many(session, [area])[0]


def get_area(session: Session, area_id: uuid.UUID, for_update: bool = False) -> Area:
    statement = select(Area).where(Area.id == area_id)
    area = session.exec(statement.with_for_update() if for_update else statement).first()
    if area is None:
        raise NotFound(f"No area with id {area_id}")
    return area


def resolve(session: Session, value: str, field: str = "query.area") -> Area:
    """The area ``value`` names, by id or official code; a 422 naming ``field`` if none."""
    text = value.strip()
    try:
        area = session.get(Area, uuid.UUID(text))
    except ValueError:
        area = session.exec(select(Area).where(Area.code == text.upper())).first()
    if area is None:
        raise InvalidField(field, f"no area has the id or code {text!r}", "unknown_area")
    return area


def known_ids(session: Session, area_ids: Iterable[uuid.UUID], field: str = "body.area_ids"):
    """``area_ids`` as stored (text), each checked to name an area; a 422 naming ``field``."""
    wanted = list(dict.fromkeys(area_ids))
    found = set(session.exec(select(Area.id).where(Area.id.in_(wanted))).all()) if wanted else set()
    missing = [str(a) for a in wanted if a not in found]
    if missing:
        raise InvalidField(field, f"no area has the id(s) {', '.join(missing)}", "unknown_id")
    return [str(a) for a in wanted]


def served_by(
    session: Session, organisation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AreaSummary]]:
    """The areas each organisation declares it serves, in one query."""
    served: dict[uuid.UUID, list[AreaSummary]] = {o: [] for o in organisation_ids}
    if organisation_ids:
        rows = session.exec(
            select(OrganisationServedArea.organisation_id, Area)
            .join(Area, Area.id == OrganisationServedArea.area_id)
            .where(OrganisationServedArea.organisation_id.in_(organisation_ids))
            .order_by(Area.kind, Area.name)
        )
        for organisation_id, area in rows:
            served[organisation_id].append(AreaSummary.model_validate(area))
    return served


def set_served(session: Session, organisation_id: uuid.UUID, area_ids: list[uuid.UUID]) -> None:
    """Replace the areas an organisation declares (each must exist: 422 otherwise)."""
    wanted = known_ids(session, area_ids or [], "body.served_area_ids")
    session.execute(
        delete(OrganisationServedArea).where(
            OrganisationServedArea.organisation_id == organisation_id
        )
    )
    session.add_all(
        OrganisationServedArea(organisation_id=organisation_id, area_id=uuid.UUID(a))
        for a in wanted
    )
    session.flush()


def _check_parent(session: Session, area_id: uuid.UUID | None, parent_id: uuid.UUID | None):
    seen = {area_id}
    while parent_id is not None:
        if parent_id in seen:
            raise InvalidField("body.parent_id", "would make the area its own ancestor", "cycle")
        parent = session.get(Area, parent_id)
        if parent is None:
            raise InvalidField("body.parent_id", "no area has this id", "unknown_id")
        seen.add(parent_id)
        parent_id = parent.parent_id


def _check_code(session: Session, code: str | None, area_id: uuid.UUID | None) -> None:
    if code is None:
        return
    taken = session.exec(select(Area).where(Area.code == code, Area.id != area_id)).first()
    if taken is not None:
        raise Conflict(f"Area {taken.id} ({taken.name}) already has the code {code}")


def _places_of(session: Session, area_id: uuid.UUID) -> list[str]:
    rows = session.exec(select(AreaPlace.prefix).where(AreaPlace.area_id == area_id))
    return sorted(rows.all())


def _set_places(session: Session, area: Area, places: list[str], action: str) -> None:
    """Replace the area's places; the change goes in the audit log (rows the flush hook
    does not see)."""
    before = [] if action == "create" else _places_of(session, area.id)
    if before == places:
        return
    session.execute(delete(AreaPlace).where(AreaPlace.area_id == area.id))
    session.execute(delete(AreaKey).where(AreaKey.area_id == area.id))
    session.add_all(AreaPlace(area_id=area.id, prefix=p) for p in places)
    session.add_all(AreaKey(area_id=area.id, key=k) for k in keys_of(places))
    record_event(
        session, action, "area", area.id, None, {"places": {"before": before, "after": places}}
    )


def create_area(session: Session, data: AreaCreate, new_id: uuid.UUID | None = None) -> Area:
    places = _places(data.places)
    _check_code(session, data.code, None)
    _check_parent(session, None, data.parent_id)
    area = Area(**data.model_dump(exclude={"places"}), id=new_id or uuid.uuid4())
    session.add(area)
    session.flush()
    _set_places(session, area, places, "create")
    session.flush()
    return area


def update_area(session: Session, area: Area, changes: dict) -> Area:
    places = _places(changes.pop("places")) if "places" in changes else None
    if "code" in changes:
        _check_code(session, changes["code"], area.id)
    if "parent_id" in changes:
        _check_parent(session, area.id, changes["parent_id"])
    for field in ("kind", "name"):
        if field in changes and changes[field] is None:
            raise InvalidField(f"body.{field}", "may not be null", "null")
    area.sqlmodel_update(changes)
    area.updated_at = utcnow()  # places are the area's too: the ETag moves with them
    session.add(area)
    if places is not None:
        if not places:
            raise InvalidField("body.places", "an area holds at least one place", "too_short")
        _set_places(session, area, places, "update")
    session.flush()
    return area


def delete_area(session: Session, area: Area) -> None:
    from app.accounts.models import ApiKey, User  # accounts build on areas, not back

    child = session.exec(select(Area.id).where(Area.parent_id == area.id)).first()
    if child is not None:
        raise Conflict(f"Area {child} lies within this one; move or remove it first")
    wanted = str(area.id)
    for model in (User, ApiKey):
        for holder_id, area_ids in session.exec(select(model.id, model.area_ids)):
            if wanted in area_ids:
                raise Conflict(f"{model.__name__} {holder_id} is limited to this area")
    session.delete(area)
    session.flush()
