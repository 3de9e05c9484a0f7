"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.activities.models import Activity, ActivityTerm, ActivityVenue, Schedule
from app.core.db import metadata
from app.organisations.models import Organisation
from app.venues.models import Venue
from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm, TermSynonym

__all__ = [
    "Activity",
    "ActivityTerm",
    "ActivityVenue",
    "NeedCategory",
    "Organisation",
    "Schedule",
    "Taxonomy",
    "TaxonomyTerm",
    "TermSynonym",
    "Venue",
    "metadata",
]
