"""Record every write to an audited model, whatever code path made it.

A ``before_flush`` hook reads SQLAlchemy's change history for each new, changed or
deleted object whose class sets ``__audit__`` and adds an ``AuditEntry`` in the same
transaction, so a change and its record commit or roll back together. Fields named in
``__audit_redact__`` are listed as changed but their values are never stored.
"""

import uuid
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction

from app.audit.models import AuditEntry

REDACTED = "[redacted]"
# Bookkeeping that changes on its own and says nothing about who changed what.
IGNORED = frozenset({"updated_at", "version", "last_used_at", "last_login_at"})


def _actor(session: OrmSession) -> tuple[str, uuid.UUID | None]:
    principal = session.info.get("principal")
    if principal is None or principal.kind in ("anonymous", "system"):
        return "system", None
    return principal.kind, principal.id


def _organisation_of(obj: Any) -> uuid.UUID | None:
    if type(obj).__audit__ == "organisation":
        return obj.id
    for name in ("organisation_id", "managed_by_organisation_id"):
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _value(obj_type: type, name: str, value: Any) -> Any:
    if name in getattr(obj_type, "__audit_redact__", ()):
        return REDACTED
    return jsonable_encoder(value)


def _ids(objects: Any) -> list[str]:
    return sorted(str(o.id) for o in objects)


def _changes(obj: Any, created: bool) -> dict[str, dict[str, Any]]:
    state = inspect(obj)
    obj_type = type(obj)
    changes: dict[str, dict[str, Any]] = {}
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name in IGNORED:
            continue
        history = state.attrs[name].history
        if created:
            value = getattr(obj, name)
            if value is not None and value != [] and value != "":
                changes[name] = {"after": _value(obj_type, name, value)}
        elif history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changes[name] = {
                    "before": _value(obj_type, name, before),
                    "after": _value(obj_type, name, after),
                }
    for name in getattr(obj_type, "__audit_collections__", ()):
        history = state.attrs[name].history
        if history.added or history.deleted:
            changes[name] = {"added": _ids(history.added), "removed": _ids(history.deleted)}
    return changes


@event.listens_for(OrmSession, "before_flush")
def _record(session: OrmSession, _flush: UOWTransaction, _instances: Any) -> None:
    actor_type, actor_id = _actor(session)
    entries = []
    for action, objects in (("create", session.new), ("update", session.dirty)):
        for obj in objects:
            if not hasattr(type(obj), "__audit__") or (
                action == "update" and not session.is_modified(obj)
            ):
                continue
            changes = _changes(obj, created=action == "create")
            if not changes:
                continue
            if action == "update" and set(changes) == {"archived_at"}:
                action_name = "archive"
            else:
                action_name = action
            entries.append(
                AuditEntry(
                    actor_type=actor_type,
                    actor_id=actor_id,
                    action=action_name,
                    object_type=type(obj).__audit__,
                    object_id=obj.id,
                    organisation_id=_organisation_of(obj),
                    changes=changes,
                )
            )
    for obj in session.deleted:
        if hasattr(type(obj), "__audit__"):
            entries.append(
                AuditEntry(
                    actor_type=actor_type,
                    actor_id=actor_id,
                    action="delete",
                    object_type=type(obj).__audit__,
                    object_id=obj.id,
                    organisation_id=_organisation_of(obj),
                )
            )
    session.add_all(entries)


def record_event(
    session: OrmSession,
    action: str,
    object_type: str,
    object_id: uuid.UUID,
    organisation_id: uuid.UUID | None,
    changes: dict[str, Any],
) -> None:
    """Record a write the flush hook cannot see: one made with a Core statement (a
    conditional UPDATE) or to a row that is not itself audited (a referral's events, a
    support need's messages). ``changes`` must hold no personal data: name such fields with
    the value ``REDACTED``."""
    actor_type, actor_id = _actor(session)
    session.add(
        AuditEntry(
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            organisation_id=organisation_id,
            changes=jsonable_encoder(changes),
        )
    )


def record_read(
    session: OrmSession,
    object_type: str,
    object_id: uuid.UUID,
    organisation_id: uuid.UUID | None,
    fields: list[str],
) -> None:
    """Record that the caller read personal data (the names of the fields, not values)."""
    record_event(session, "read", object_type, object_id, organisation_id, {"read": fields})
