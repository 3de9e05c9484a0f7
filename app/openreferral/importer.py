"""Filling the directory from Open Referral UK feeds and files (``signpost import-oruk``).

Each record of the source (a service with its organisation, locations, schedules and
terms; an organisation; a service at a location; a taxonomy or term) is checked against
the profile's JSON schema, then written through the same services the API uses, so it is
validated, audited, indexed and geocoded exactly as typed-in listings are. A record that
fails is reported with its reasons and skipped, inside its own savepoint: nothing of it
stays. Parts we cannot hold (a location outside the UK, a schedule without a weekday) are
left out with a warning; the rest of the record goes in.

The source's ids are kept per source (``external_record``), so a re-run updates what it
wrote before instead of duplicating it, and a service or organisation the source no longer
has is archived, never deleted. New rows take the source's id when it is a UUID still free
here, so a feed exported and imported again keeps its ids. Imported organisations start
as drafts: link workers see nothing until a steward or the organisation publishes it.
Terms of other taxonomies are kept as ``external_term`` rows; once a steward maps one onto
our vocabulary, every later import tags with our term.
"""

import csv
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.accounts.principal import SYSTEM
from app.activities import service as activities
from app.activities import spreadsheet
from app.activities.models import Activity, ActivityStatus, FundingSource
from app.activities.schemas import ActivityCreate, ScheduleIn
from app.core.db import begin_explicitly
from app.core.errors import Problem
from app.core.types import utcnow
from app.geo.postcodes import normalise_postcode
from app.openreferral import profile
from app.openreferral.models import ExternalRecord, ExternalTerm
from app.organisations import service as organisations
from app.organisations.models import LegalForm, Organisation, OrganisationStatus
from app.organisations.schemas import OrganisationCreate
from app.search import indexing as search_index
from app.venues import service as venues
from app.venues.models import AccessibilityFeature, Venue
from app.venues.schemas import VenueCreate
from app.vocabulary.models import Taxonomy, TaxonomyTerm
from app.vocabulary.snapshot import Snapshot, snapshot

PER_PAGE = 50
# Fields of ours a record may carry beside the profile's (a spreadsheet row has them).
OWN_FIELDS = "_signpost"
# Files are read in this order, so what a record refers to is already in.
KIND_ORDER = ("taxonomy", "taxonomy_term", "organization", "service", "service_at_location")
FULL_SERVICE_KEYS = {"schedules", "service_at_locations", "attributes"}
IDENTIFIER_FIELDS = {"GB-CHC": "charity_number", "GB-COH": "company_number"}
# Profile errors that only warn: a description we can leave empty, and fields we do not
# keep. Anything else the schema says is wrong refuses the record.
TOLERATED = frozenset(
    {
        "description",
        "uri",
        "term_uri",
        "logo",
        "schedule_link",
        "assurer_email",
        "accreditations",
        "fees",
        "alert",
        "parent_organization_id",
        "external_identifier",
        "external_identifier_type",
    }
)


class SourceError(Exception):
    """The source cannot be read at all (not a feed, not JSON, unreachable)."""


class RecordRefused(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class Refusal:
    kind: str
    external_id: str
    reasons: list[str]


@dataclass
class Outcome:
    """What an import did (or, in a dry run, would do)."""

    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    archived: Counter = field(default_factory=Counter)
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pages: int = 0
    records: int = 0


# --- reading sources --------------------------------------------------------------------------


def read(
    source: str,
    on_page: Callable[[], None] = lambda: None,
    client: httpx.Client | None = None,
) -> Iterator[tuple[str, Any]]:
    """(kind, record) for every record of ``source``: a feed's base URL, a JSON file, or a
    folder of them. ``on_page`` is called after each page or file; ``client``: the HTTP
    client to read a feed with (default: a new one, 30-second timeout)."""
    if source.startswith(("http://", "https://")):
        if client is not None:
            yield from _walk_feed(client, source.rstrip("/"), on_page)
            return
        with httpx.Client(timeout=30, follow_redirects=True) as own:
            yield from _walk_feed(own, source.rstrip("/"), on_page)
        return
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{source}: no such file or folder")
    if path.suffix.lower() == ".csv":
        yield from _read_csv(path, on_page)
        return
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    documents = []
    for file in files:
        try:
            document = json.loads(file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SourceError(f"{file.name}: not readable JSON ({error})") from None
        kind = _kind_of(file.name, document)
        if kind is not None:
            documents.append((KIND_ORDER.index(kind), file.name, kind, document))
    for _, _, kind, document in sorted(documents, key=lambda d: (d[0], d[1])):
        yield from ((kind, item) for item in _items(document))
        on_page()


def _read_csv(path: Path, on_page: Callable[[], None]) -> Iterator[tuple[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"name", "organisation_name"} - set(reader.fieldnames or [])
            if missing:
                raise SourceError(f"{path.name}: no {', '.join(sorted(missing))} column")
            for number, row in enumerate(reader, start=2):  # the header is line 1
                yield "csv_row", {**row, "_line": str(number)}
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SourceError(f"{path.name}: not a readable CSV file ({error})") from None
    on_page()


def _items(document: Any) -> list[Any]:
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        return document["contents"]
    return [document]


def _kind_of(name: str, document: Any) -> str | None:
    """What a file holds, by its name as the profile's endpoints are named, else by shape;
    None for what is not a directory record (api_details, anything else)."""
    for kind in sorted(KIND_ORDER, key=len, reverse=True):  # service_at_location first
        if name.startswith(kind):
            return kind
    items = _items(document)
    sample = items[0] if items and isinstance(items[0], dict) else {}
    if "id" not in sample:
        return None
    if {"location", "location_id"} & sample.keys():
        return "service_at_location"
    if "status" in sample:
        return "service"
    if "organization_identifiers" in sample or "services" in sample:
        return "organization"
    if "taxonomy_terms" in sample:
        return "taxonomy"
    if "term" in sample or "taxonomy_id" in sample:
        return "taxonomy_term"
    return None


def _walk_feed(
    client: httpx.Client, base: str, on_page: Callable[[], None]
) -> Iterator[tuple[str, Any]]:
    """Every service of the feed, page by page (50 at a time, fully nested where the feed
    offers ``full``; otherwise each one read by its id)."""

    def get(path: str, **params: Any) -> Any:
        try:
            response = client.get(f"{base}{path}", params=params)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            raise SourceError(f"{base}{path}: {error}") from None

    page = 1
    while True:
        body = get("/services", page=page, per_page=PER_PAGE, full="true")
        if profile.problems("page", body):
            raise SourceError(f"{base}/services is not an Open Referral page")
        for item in body["contents"]:
            if isinstance(item, dict) and not FULL_SERVICE_KEYS & item.keys() and "id" in item:
                item = get(f"/services/{item['id']}")  # a feed that lists without nesting
            yield "service", item
        on_page()
        if body["last_page"] or not body["contents"] or page >= body["total_pages"]:
            return
        page += 1


# --- writing --------------------------------------------------------------------------------


class Importer:
    """Writes one source's records in ``session`` (the caller commits, or rolls back for a
    dry run)."""

    def __init__(self, session: Session, source: str, trust_ids: bool = False) -> None:
        self.session = session
        self.source = source
        self.started = utcnow()
        self.outcome = Outcome()
        self.complete = True  # every record read: what was not seen has left the source
        # A spreadsheet exported from here names our own rows by their ids.
        self.trust_ids = trust_ids

    # ---- one record, all or nothing

    def add(self, kind: str, record: Any) -> None:
        self.outcome.records += 1
        if kind == "csv_row":
            external_id = f"line {record['_line']}"
        else:
            external_id = str(record.get("id", "?")) if isinstance(record, dict) else "?"
        savepoint = self.session.begin_nested()
        try:
            handler = {
                "service": self._service,
                "organization": self._organization,
                "service_at_location": self._service_at_location,
                "taxonomy": self._taxonomy,
                "taxonomy_term": self._taxonomy_term,
                "csv_row": self._csv_row,
            }[kind]
            handler(record)
            self.session.flush()
        except RecordRefused as refused:
            savepoint.rollback()
            self.outcome.refused.append(Refusal(kind, external_id, refused.reasons))
        except ValidationError as error:
            savepoint.rollback()
            self.outcome.refused.append(Refusal(kind, external_id, _validation_reasons(error)))
        except Problem as problem:
            savepoint.rollback()
            reasons = [f"{e.field}: {e.message}" for e in problem.errors or []] or [problem.detail]
            self.outcome.refused.append(Refusal(kind, external_id, reasons))
        except IntegrityError:
            savepoint.rollback()
            reason = "conflicts with what is stored here (a duplicate or a missing reference)"
            self.outcome.refused.append(Refusal(kind, external_id, [reason]))
        else:
            savepoint.commit()

    def _check(self, schema: str, record: Any) -> None:
        if not isinstance(record, dict):
            raise RecordRefused(["not a JSON object"])
        found = profile.issues(schema, record)
        refusing = [issue.line for issue in found if issue.field not in TOLERATED]
        if refusing:
            raise RecordRefused(refusing)
        for issue in found:
            self._warn(record, f"{issue.line} (ignored)")

    def _warn(self, record: dict, message: str) -> None:
        line = f"{record.get('id', '?')}: {message}"
        if line not in self.outcome.warnings:  # a record met again in another file
            self.outcome.warnings.append(line)

    # ---- external ids

    def _known(self, kind: str, external_id: str, model: type) -> uuid.UUID | None:
        """Our row for the source's record: remembered from an earlier run, or (for a
        spreadsheet of ours) named by its own id."""
        row = self.session.get(ExternalRecord, (self.source, kind, external_id))
        if row is not None:
            return row.local_id
        if self.trust_ids:
            try:
                ours = uuid.UUID(external_id)
            except ValueError:
                return None
            return ours if self.session.get(model, ours) is not None else None
        return None

    def _remember(self, kind: str, external_id: str, local_id: uuid.UUID) -> None:
        row = self.session.get(ExternalRecord, (self.source, kind, external_id))
        if row is None:
            row = ExternalRecord(
                source=self.source, kind=kind, external_id=external_id, local_id=local_id
            )
        row.local_id, row.seen_at = local_id, utcnow()
        self.session.add(row)

    def _new_id(self, model: type, external_id: str) -> uuid.UUID | None:
        """The source's id, when it is a UUID no row of ours has."""
        try:
            wanted = uuid.UUID(external_id)
        except ValueError:
            return None
        return None if self.session.get(model, wanted) is not None else wanted

    def _count(self, kind: str, created: bool, changed: bool) -> None:
        bucket = (
            self.outcome.created
            if created
            else self.outcome.updated
            if changed
            else self.outcome.unchanged
        )
        bucket[kind] += 1

    # ---- organisations

    def _organization(self, record: Any) -> None:
        self._check("organization", record)
        organisation = self._upsert_organisation(record)
        for service in record.get("services") or []:
            if isinstance(service, dict):
                self._check("service", service)
                self._upsert_service(service, organisation)

    def _upsert_organisation(self, record: dict) -> Organisation:
        external_id = str(record["id"])
        # What the record has; what it leaves out stays as it is here.
        wanted: dict[str, Any] = {"name": record["name"]}
        if "description" in record:
            wanted["description"] = record["description"] or ""
        if "email" in record:
            wanted["email"] = record["email"] or None
        if "website" in record or "uri" in record:
            wanted["website"] = record.get("website") or record.get("uri") or None
        for identifier in record.get("organization_identifiers") or []:
            field_name = IDENTIFIER_FIELDS.get(identifier.get("identifier_scheme", ""))
            value = str(identifier.get("identifier", "")).strip()
            if field_name:
                try:
                    OrganisationCreate.model_validate(
                        {"name": "x", "legal_form": "charity", field_name: value}
                    )
                except ValidationError:
                    self._warn(record, f"{field_name} {value!r} is not valid here; left out")
                else:
                    wanted[field_name] = value
        wanted = _stripped(wanted)
        local_id = self._known("organization", external_id, Organisation)
        organisation = self.session.get(Organisation, local_id) if local_id else None
        if organisation is None:
            legal_form = LegalForm.charity if wanted.get("charity_number") else None
            data = OrganisationCreate.model_validate(
                {
                    **wanted,
                    "legal_form": legal_form or LegalForm.community_group,
                    "status": OrganisationStatus.draft,
                }
            )
            organisation = organisations.create_organisation(
                self.session, SYSTEM, data, new_id=self._new_id(Organisation, external_id)
            )
            self._count("organization", created=True, changed=True)
        else:
            changes = {k: v for k, v in wanted.items() if getattr(organisation, k) != v}
            if changes and organisation.archived_at is None:
                organisations.update_organisation(self.session, SYSTEM, organisation, changes)
            self._count("organization", created=False, changed=bool(changes))
        self._remember("organization", external_id, organisation.id)
        return organisation

    # ---- services

    def _service(self, record: Any) -> None:
        self._check("service", record)
        self._upsert_service(record)

    def _organisation_of(self, record: dict) -> Organisation:
        nested = record.get("organization")
        if isinstance(nested, dict) and nested.get("id"):
            self._check("organization", nested)
            return self._upsert_organisation(nested)
        external_id = record.get("organization_id")
        local_id = (
            self._known("organization", str(external_id), Organisation) if external_id else None
        )
        organisation = self.session.get(Organisation, local_id) if local_id else None
        if organisation is None:
            raise RecordRefused(
                ["organization_id: names no organization of this source (send the organization)"]
            )
        return organisation

    def _upsert_service(self, record: dict, organisation: Organisation | None = None) -> Activity:
        external_id = str(record["id"])
        organisation = organisation or self._organisation_of(record)
        if organisation.archived_at is not None:
            raise RecordRefused([f"organization {organisation.id} is archived here"])
        wanted = _stripped(self._service_fields(record))
        locations = self._locations(record)
        local_id = self._known("service", external_id, Activity)
        activity = activities.get_activity(self.session, local_id) if local_id else None
        if local_id and activity is None:
            activity = None  # deleted here since: write it again
        if activity is None:
            venue_ids = list(dict.fromkeys(locations.values()))
            data = ActivityCreate.model_validate(
                {
                    **wanted,
                    "organisation_id": organisation.id,
                    "venue_ids": venue_ids,
                    "schedules": self._schedules(record, locations),
                    "term_ids": self._terms(record),
                }
            )
            activity = activities.create_activity(
                self.session, SYSTEM, data, new_id=self._new_id(Activity, external_id)
            )
            changed = created = True
        else:
            created = False
            changes = {k: v for k, v in wanted.items() if _differs(getattr(activity, k), v)}
            if "service_at_locations" in record:
                venue_ids = list(dict.fromkeys(locations.values()))
                if set(venue_ids) != {v.id for v in activity.venues}:
                    changes["venue_ids"] = venue_ids
            if "schedules" in record:
                schedules = self._schedules(record, locations)
                if _schedule_keys(schedules) != _schedule_keys(
                    [ScheduleIn.model_validate(s, from_attributes=True) for s in activity.schedules]
                ):
                    changes["schedules"] = [s.model_dump() for s in schedules]
            if "attributes" in record:
                term_ids = self._terms(record)
                if set(term_ids) != {t.id for t in activity.terms}:
                    changes["term_ids"] = term_ids
            changed = bool(changes)
            if changed and activity.archived_at is None:
                activity = activities.update_activity(self.session, activity, changes)
        modified = _instant(record.get("last_modified"))
        if modified is not None and changed:
            activity.updated_at = modified  # as the source last changed it
            self.session.add(activity)
            self.session.flush()
            search_index.refresh(self.session, [activity.id])
        self._add_areas(organisation, record)
        self._count("service", created=created, changed=changed)
        self._remember("service", external_id, activity.id)
        return activity

    def _add_areas(self, organisation: Organisation, record: dict) -> None:
        """A service's areas are its organisation's here: add those it does not list."""
        names = [
            str(area.get("name") or "").strip()[:100]
            for area in record.get("service_areas") or []
            if isinstance(area, dict)
        ]
        areas = list(organisation.areas_served)
        areas += [name for name in dict.fromkeys(names) if name and name not in areas]
        if len(areas) != len(organisation.areas_served) and organisation.archived_at is None:
            organisations.update_organisation(
                self.session, SYSTEM, organisation, {"areas_served": areas[:50]}
            )

    def _service_fields(self, record: dict) -> dict[str, Any]:
        """Our activity's own fields from what the record has (absent keys: unchanged)."""
        wanted: dict[str, Any] = {
            "name": record["name"],
            "status": _status(record["status"]),
        }
        for name in ("description", "url", "email"):
            if name in record:
                wanted[name] = record[name] or ("" if name == "description" else None)
        for age in ("minimum_age", "maximum_age"):
            if age in record:
                wanted[age] = _whole(age, record[age])
        assured = record.get("assured_date")
        if assured:
            try:
                day = datetime.fromisoformat(str(assured)[:10])
            except ValueError:
                self._warn(record, f"assured_date {assured!r} is not a date; left out")
            else:
                wanted["last_confirmed_at"] = min(day.replace(tzinfo=UTC), utcnow())
        if "languages" in record:
            codes = [
                str(lang.get("code", "")).lower()
                for lang in record["languages"] or []
                if isinstance(lang, dict)
            ]
            codes = [c for c in codes if 2 <= len(c) <= 3 and c.isalpha()]
            wanted["languages"] = list(dict.fromkeys(codes)) or ["en"]
        if record.get("funding"):
            sources = [f.get("source") for f in record["funding"] if isinstance(f, dict)]
            known = [s for s in sources if s in FundingSource.__members__]
            if known:
                wanted["funding_source"] = FundingSource(known[0])
        if record.get("cost_options"):
            wanted.update(_cost(record["cost_options"][0]))
        wanted.update(record.get(OWN_FIELDS, {}))
        return wanted

    def _locations(self, record: dict) -> dict[str, uuid.UUID]:
        """Our venue for each of the record's service_at_location ids (those we can place)."""
        placed: dict[str, uuid.UUID] = {}
        for link in record.get("service_at_locations") or []:
            location = link.get("location") if isinstance(link, dict) else None
            if not isinstance(location, dict):
                continue
            venue = self._upsert_venue(record, location)
            if venue is not None:
                placed[str(link.get("id") or location["id"])] = venue.id
        return placed

    def _upsert_venue(self, record: dict, location: dict) -> Venue | None:
        """The venue for ``location``, or None (and a warning) when it cannot be one."""
        savepoint = self.session.begin_nested()
        try:
            venue = self._write_venue(record, location)
        except (ValidationError, Problem) as error:
            savepoint.rollback()
            reasons = (
                "; ".join(_validation_reasons(error))
                if isinstance(error, ValidationError)
                else error.detail
            )
            self._warn(record, f"location {location['id']} left out ({reasons})")
            return None
        savepoint.commit()
        return venue

    def _write_venue(self, record: dict, location: dict) -> Venue | None:
        external_id = str(location["id"])
        local_id = self._known("location", external_id, Venue)
        venue = self.session.get(Venue, local_id) if local_id else None
        wanted = _venue_fields(location)
        wanted = _stripped(wanted) if wanted else None
        if wanted is None:
            self._warn(
                record,
                f"location {external_id} has no UK postcode, so it cannot be placed; left out",
            )
            return None
        if venue is None:
            data = VenueCreate.model_validate(wanted)
            venue = venues.create_venue(
                self.session, SYSTEM, data, new_id=self._new_id(Venue, external_id)
            )
            self._count("location", created=True, changed=True)
        else:
            changes = {k: v for k, v in wanted.items() if _differs(getattr(venue, k), v)}
            if changes and venue.archived_at is None:
                venues.update_venue(self.session, SYSTEM, venue, changes)
            self._count("location", created=False, changed=bool(changes))
        self._remember("location", external_id, venue.id)
        return venue

    def _schedules(self, record: dict, locations: dict[str, uuid.UUID]) -> list[ScheduleIn]:
        kept = []
        for schedule in record.get("schedules") or []:
            if not isinstance(schedule, dict):
                continue
            try:
                kept.append(
                    ScheduleIn.model_validate(
                        {
                            key: value
                            for key, value in {
                                "freq": schedule.get("freq"),
                                "interval": schedule.get("interval") or 1,
                                "byday": schedule.get("byday"),
                                "opens_at": schedule.get("opens_at"),
                                "closes_at": schedule.get("closes_at"),
                                "valid_from": (schedule.get("valid_from") or None),
                                "valid_to": (schedule.get("valid_to") or None),
                                "description": (schedule.get("description") or "")[:500],
                                "venue_id": locations.get(
                                    str(schedule.get("service_at_location_id"))
                                ),
                            }.items()
                            if value is not None
                        }
                    )
                )
            except ValidationError as error:
                reasons = "; ".join(_validation_reasons(error))
                self._warn(record, f"schedule {schedule.get('id')} left out ({reasons})")
        return kept

    def _terms(self, record: dict) -> list[uuid.UUID]:
        """Our terms for the record's attributes: ours by id, others through a steward's
        mapping (kept as external terms until mapped)."""
        found: list[uuid.UUID] = []
        for attribute in record.get("attributes") or []:
            term = attribute.get("taxonomy_term") if isinstance(attribute, dict) else None
            if not isinstance(term, dict):
                term = {"id": attribute.get("taxonomy_term_id")} if attribute else None
            if not term or not term.get("id"):
                continue
            mapped = self._term(term)
            if mapped is not None and mapped not in found:
                found.append(mapped)
        return found

    def _term(self, term: dict) -> uuid.UUID | None:
        external_id = str(term["id"])
        try:
            ours = self.session.get(TaxonomyTerm, uuid.UUID(external_id))
        except ValueError:
            ours = None
        if ours is None and term.get("term") and term.get("taxonomy"):
            # Our own vocabulary, exported by another Signpost: the same scheme and code.
            ours = self.session.exec(
                select(TaxonomyTerm)
                .join(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
                .where(TaxonomyTerm.code == term["term"], Taxonomy.name == term["taxonomy"])
            ).first()
        if ours is not None:
            return ours.id if ours.retired_at is None else None
        known = self.session.exec(
            select(ExternalTerm).where(
                ExternalTerm.source == self.source, ExternalTerm.external_id == external_id
            )
        ).first()
        if known is None:
            known = ExternalTerm(
                source=self.source,
                external_id=external_id,
                taxonomy=str(term.get("taxonomy") or term.get("taxonomy_id") or "")[:255],
                name=str(term.get("name") or external_id)[:255],
                first_seen_at=utcnow(),
            )
            self.session.add(known)
            self.outcome.created["external_term"] += 1
        return known.term_id

    # ---- the other kinds

    def _service_at_location(self, record: Any) -> None:
        self._check("service_at_location", record)
        service = record.get("service")
        location = record.get("location")
        link = {"id": record["id"], "location": location} if isinstance(location, dict) else None
        if isinstance(service, dict) and service.get("id"):
            links = [*(service.get("service_at_locations") or []), *([link] if link else [])]
            merged = {**service, "service_at_locations": links}
            if not service.get("organization") and not service.get("organization_id"):
                raise RecordRefused(["service: names no organization"])
            self._check("service", merged)
            self._upsert_service(merged)
        elif link:
            self._upsert_venue(record, location)

    def _taxonomy(self, record: Any) -> None:
        self._check("taxonomy", record)
        for term in record.get("taxonomy_terms") or []:
            if isinstance(term, dict) and term.get("id"):
                self._term({"taxonomy": record.get("name"), **term})

    def _csv_row(self, row: dict[str, str]) -> None:
        """A spreadsheet row (``app.activities.spreadsheet``) as the service it describes."""
        record, problems = _record_of_row(row, snapshot(self.session, force=True))
        if problems:
            raise RecordRefused(problems)
        self._upsert_service(record, self._upsert_organisation(record["organization"]))

    def _taxonomy_term(self, record: Any) -> None:
        self._check("taxonomy_term", record)
        self._term(record)

    # ---- what left the source

    def archive_missing(self) -> None:
        """Archive the services and organisations this source had before and no longer
        has (only after a complete read: a failed page says nothing about what is gone)."""
        if not self.complete:
            return
        for kind in ("service", "organization"):
            gone = self.session.exec(
                select(ExternalRecord).where(
                    ExternalRecord.source == self.source,
                    ExternalRecord.kind == kind,
                    ExternalRecord.seen_at < self.started,
                )
            ).all()
            for row in gone:
                if kind == "service":
                    activity = self.session.get(Activity, row.local_id)
                    if activity is not None and activity.archived_at is None:
                        activities.archive_activity(self.session, activity)
                        self.outcome.archived[kind] += 1
                else:
                    organisation = self.session.get(Organisation, row.local_id)
                    if organisation is not None and organisation.archived_at is None:
                        organisations.archive_organisation(self.session, organisation)
                        self.outcome.archived[kind] += 1


def run(
    session: Session,
    source: str,
    dry_run: bool = False,
    on_page: Callable[[], None] = lambda: None,
    on_record: Callable[[], None] = lambda: None,
    client: httpx.Client | None = None,
) -> Outcome:
    """Import ``source`` in ``session``: committed at the end, or all rolled back for a dry
    run (which then reports exactly what the import would have done)."""
    spreadsheet_file = source.lower().endswith(".csv")
    importer = Importer(session, _source_key(source), trust_ids=spreadsheet_file)
    # A spreadsheet may hold part of a directory: nothing is archived for what it lacks.
    importer.complete = not spreadsheet_file
    begin_explicitly(session)  # one transaction, a savepoint per record

    def page_read() -> None:
        importer.outcome.pages += 1
        on_page()

    try:
        for kind, record in read(source, page_read, client):
            importer.add(kind, record)
            on_record()
    except SourceError:
        session.rollback()
        raise
    importer.archive_missing()
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return importer.outcome


def _source_key(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return source.rstrip("/")
    if source.lower().endswith(".csv"):
        return "csv:" + Path(source).name  # an edited copy of the same sheet matches
    return "file:" + str(Path(source).resolve())


# --- small mappings -----------------------------------------------------------------------


def _validation_reasons(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc']) or '(record)'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)
    ]


def _stripped(values: dict[str, Any]) -> dict[str, Any]:
    """Text as the API stores it: without surrounding white space."""
    return {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(current, Decimal) or isinstance(wanted, Decimal):
        return (current is None) != (wanted is None) or (
            current is not None and Decimal(current) != Decimal(wanted)
        )
    if isinstance(current, datetime) and isinstance(wanted, datetime):
        return current.date() != wanted.date()  # the source says when, to the day
    return current != wanted


def _schedule_keys(schedules: list[ScheduleIn]) -> list[tuple]:
    return sorted(
        (
            s.freq,
            s.interval,
            s.byday,
            s.opens_at,
            s.closes_at,
            s.valid_from,
            s.valid_to,
            s.description,
            str(s.venue_id),
        )
        for s in schedules
    )


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return min(moment.astimezone(UTC), utcnow())


def _cost(option: Any) -> dict[str, Any]:
    if not isinstance(option, dict):
        return {}
    label = str(option.get("option") or "").strip()
    try:
        amount = Decimal(str(option["amount"])) if option.get("amount") is not None else None
    except InvalidOperation:
        amount = None
    concessions = str(option.get("amount_description") or "")[:500]
    if label.lower() == "donation":
        return {"cost_type": "donation", "cost_amount": None, "concessions": concessions}
    if label.lower() == "free" or amount == 0:
        return {"cost_type": "free", "cost_amount": None, "concessions": concessions}
    return {
        "cost_type": "fee",
        "cost_amount": amount,
        "cost_description": "" if label.lower() == "fee" else label[:500],
        "concessions": concessions,
    }


def _venue_fields(location: dict) -> dict[str, Any] | None:
    """A venue from a location: the first address with a UK postcode, or None. Its
    coordinates are not taken: the postcode places it, as it places venues typed in."""
    for address in location.get("addresses") or []:
        if not isinstance(address, dict):
            continue
        try:
            postcode = normalise_postcode(str(address.get("postal_code") or ""))
        except ValueError:
            continue
        features, notes = [], []
        for item in location.get("accessibility") or []:
            if not isinstance(item, dict):
                continue
            if item.get("details") in AccessibilityFeature.__members__:
                features.append(AccessibilityFeature(item["details"]))
            elif item.get("description"):
                notes.append(str(item["description"]))
        fields = {
            "name": (location.get("name") or address.get("address_1") or "")[:255],
            "address_1": str(address.get("address_1") or "")[:255],
            "city": str(address.get("city") or "")[:100],
            "postcode": postcode,
        }
        if "address_2" in address:
            fields["address_2"] = address["address_2"] or None
        if "state_province" in address or "region" in address:
            fields["county"] = address.get("state_province") or address.get("region") or None
        # What the location leaves out stays as it is here.
        if "description" in location:
            fields["description"] = (location["description"] or "")[:2000]
        if "accessibility" in location:
            fields["accessibility"] = list(dict.fromkeys(features))
            fields["accessibility_notes"] = " ".join(notes)[:1000]
        return fields
    return None


def _status(value: Any) -> ActivityStatus:
    try:
        return ActivityStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in ActivityStatus)
        raise RecordRefused([f"status: {value!r} is not one of {choices}"]) from None


def _whole(name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise RecordRefused([f"{name}: {value!r} is not a whole number"]) from None


def _cell(row: dict[str, str], name: str) -> str:
    value = (row.get(name) or "").strip()
    return value[1:] if value.startswith("'") else value  # the CSV writer's formula guard


def _record_of_row(row: dict[str, str], vocabulary: Snapshot) -> tuple[dict, list[str]]:
    """The service a spreadsheet row describes, as an Open Referral record with our own
    fields beside it (``OWN_FIELDS``), and what is wrong with the row. Columns the sheet
    leaves out leave those fields as they are."""
    problems: list[str] = []
    organisation_key = _cell(row, "organisation_id") or _cell(row, "organisation_name")
    record: dict[str, Any] = {
        "id": _cell(row, "activity_id") or f"{organisation_key}|{_cell(row, 'name')}",
        "name": _cell(row, "name"),
        "status": _cell(row, "status") or "active",
        "organization": {
            "id": organisation_key,
            "name": _cell(row, "organisation_name") or organisation_key,
        },
    }
    if not record["name"]:
        problems.append("name: a name is needed")
    if not organisation_key:
        problems.append("organisation_name: an organisation is needed")
    for name in ("description", "url", "email", "minimum_age", "maximum_age"):
        if name in row:
            record[name] = _cell(row, name) if name == "description" else _cell(row, name) or None
    if "venue_postcodes" in row:
        record["service_at_locations"] = _row_locations(row, problems)
    if "schedules" in row:
        record["schedules"] = _row_schedules(row, problems)
    if "terms" in row:
        record["attributes"] = _row_terms(row, vocabulary, problems)
    own: dict[str, Any] = {}
    for name in spreadsheet.PLAIN:
        if name in row and name not in record and name != "status":
            if name in spreadsheet.FLAGS:
                if cell := _cell(row, name):
                    flag = spreadsheet.flag(cell)
                    if flag is None:
                        problems.append(f"{name}: {cell!r} is neither yes nor no")
                    else:
                        own[name] = flag
                continue
            own[name] = _cell(row, name) or ("" if name in spreadsheet.TEXT else None)
    for name in spreadsheet.LISTS:
        if _cell(row, name):
            own[name] = spreadsheet.split(row.get(name))
    record[OWN_FIELDS] = own
    return record, problems


def _row_locations(row: dict[str, str], problems: list[str]) -> list[dict]:
    columns = ["venue_ids", "venue_names", "venue_addresses", "venue_cities", "venue_postcodes"]
    ids, names, addresses, cities, postcodes = (spreadsheet.split(row.get(c)) for c in columns)
    if any(len(column) not in (0, len(postcodes)) for column in (ids, names, addresses, cities)):
        problems.append("venue_postcodes: give each venue its name, address, city and postcode")
        return []
    links = []
    for index, postcode in enumerate(postcodes):

        def at(column: list[str], index: int = index) -> str:
            return column[index] if column else ""

        location_id = at(ids) or f"{postcode}|{at(addresses)}"
        address = {
            "id": location_id,
            "address_1": at(addresses),
            "city": at(cities),
            "postal_code": postcode,
            "country": "GB",
            "address_type": "physical",
        }
        location = {
            "id": location_id,
            "location_type": "physical",
            "name": at(names) or at(addresses),
            "addresses": [address],
        }
        links.append({"id": location_id, "location": location})
    return links


def _row_schedules(row: dict[str, str], problems: list[str]) -> list[dict]:
    schedules = []
    for text in spreadsheet.split(row.get("schedules")):
        schedule = spreadsheet.parse_schedule(text)
        if schedule is None:
            problems.append(
                f"schedules: {text!r} does not read as FREQ BYDAY HH:MM-HH:MM "
                "(e.g. WEEKLY TU 10:00-12:00)"
            )
        else:
            schedules.append({"id": text, **schedule})
    return schedules


def _row_terms(row: dict[str, str], vocabulary: Snapshot, problems: list[str]) -> list[dict]:
    attributes = []
    for text in spreadsheet.split(row.get("terms")):
        scheme, _, code = text.partition(":")
        term_id = vocabulary.by_code.get((scheme.strip(), code.strip().lower()))
        if term_id is None:
            problems.append(f"terms: {text!r} is no term of ours (scheme:code)")
        else:
            attributes.append({"taxonomy_term": {"id": str(term_id)}})
    return attributes


def describe(outcome: Outcome, dry_run: bool) -> str:
    """The report the command prints: counts by kind, then each refusal and warning."""
    verb = "would be" if dry_run else "were"
    lines = [f"{outcome.records} records read from {outcome.pages} pages or files"]
    for label, counts in (
        ("created", outcome.created),
        ("updated", outcome.updated),
        ("unchanged", outcome.unchanged),
        ("archived", outcome.archived),
    ):
        if counts:
            detail = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            lines.append(f"{label} ({verb}): {detail}")
    lines.append(f"refused: {len(outcome.refused)}")
    for refusal in outcome.refused:
        lines.append(f"  {refusal.kind} {refusal.external_id}:")
        lines += [f"    - {reason}" for reason in refusal.reasons]
    if outcome.warnings:
        lines.append(f"warnings: {len(outcome.warnings)}")
        lines += [f"  - {warning}" for warning in outcome.warnings]
    return "\n".join(lines)
