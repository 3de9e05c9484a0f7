"""The Open Referral UK 3.0 shapes, for the OpenAPI document (clients are built from it).

The feed builds its JSON directly (``app.openreferral.feed``); the tests check it against
the profile's own JSON schemas (``schemas/``), which remain the authority. Fields the feed
never fills (``logo``, ``alert``, ``contacts``...) are left out here.
"""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.core.pagination import Page


class OrukApiDetails(BaseModel):
    version: str = Field(examples=["HSDS-UK-3.0"])
    profile: str = Field(description="The HSDS profile this API follows")
    openapi_url: str = Field(description="This API's OpenAPI document")


class OrukTaxonomyTerm(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    parent_id: uuid.UUID | None = None
    taxonomy: str | None = Field(None, description="The taxonomy's name")
    taxonomy_id: uuid.UUID | None = None
    term: str | None = Field(None, description="The term's code")


class OrukTaxonomy(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    taxonomy_terms: list[OrukTaxonomyTerm] | None = Field(None, description="On /taxonomies/{id}")


class OrukAttribute(BaseModel):
    """A term a service is tagged with."""

    id: uuid.UUID
    link_id: uuid.UUID
    link_type: Literal["service"]
    taxonomy_term_id: uuid.UUID
    taxonomy_term: OrukTaxonomyTerm


class OrukOrganizationIdentifier(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    identifier_scheme: str = Field(examples=["GB-CHC"], description="An org-id.guide scheme")
    identifier_type: str = Field(examples=["Charity number"])
    identifier: str


class OrukOrganization(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    email: str | None = None
    website: str | None = None
    organization_identifiers: list[OrukOrganizationIdentifier] | None = Field(
        None, description="With full nesting"
    )


class OrukAddress(BaseModel):
    id: uuid.UUID
    location_id: uuid.UUID
    address_1: str
    address_2: str | None = None
    city: str
    state_province: str = Field(description="The county, or empty")
    postal_code: str
    country: Literal["GB"]
    address_type: Literal["physical"]


class OrukAccessibility(BaseModel):
    id: uuid.UUID
    location_id: uuid.UUID
    description: str
    details: str | None = Field(None, description="Our feature code, e.g. step_free_access")


class OrukLocation(BaseModel):
    id: uuid.UUID
    location_type: Literal["physical"]
    name: str
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    addresses: list[OrukAddress] | None = Field(None, description="With full nesting")
    accessibility: list[OrukAccessibility] | None = Field(None, description="With full nesting")


class OrukSchedule(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    service_at_location_id: uuid.UUID | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    freq: Literal["WEEKLY", "MONTHLY"]
    interval: int
    byday: str = Field(examples=["TU", "1TU"])
    opens_at: str = Field(description="UK local time", examples=["10:00"])
    closes_at: str
    description: str | None = None


class OrukServiceArea(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    name: str = Field(description="A place the organisation serves")


class OrukLanguage(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    code: str = Field(examples=["en"], description="ISO 639 code")


class OrukFunding(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    source: Literal["commissioned", "grant", "unfunded"]


class OrukCostOption(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    option: str = Field(examples=["Free", "Donation", "£3 a session"])
    amount: float | None = Field(None, description="Pounds sterling; 0 when free")
    amount_description: str | None = Field(None, description="Concessions")


class OrukServiceSummary(BaseModel):
    """A service as lists show it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str
    url: str | None = None
    email: str | None = None
    status: Literal["active", "inactive", "defunct", "temporarily closed"]
    minimum_age: int | None = None
    maximum_age: int | None = None
    assured_date: date = Field(description="The day the organisation last confirmed the listing")
    last_modified: datetime
    organization: OrukOrganization | None = None


class OrukServiceAtLocationNested(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    location_id: uuid.UUID
    location: OrukLocation


class OrukService(OrukServiceSummary):
    """A service fully nested (``/services/{id}``, or lists with ``full=true``)."""

    schedules: list[OrukSchedule] = []
    service_areas: list[OrukServiceArea] = []
    service_at_locations: list[OrukServiceAtLocationNested] = []
    languages: list[OrukLanguage] = []
    funding: list[OrukFunding] = []
    cost_options: list[OrukCostOption] = []
    contacts: list[dict] = []
    attributes: list[OrukAttribute] = []


class OrukOrganizationFull(OrukOrganization):
    services: list[OrukService | OrukServiceSummary] = []


class OrukServiceAtLocation(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    location_id: uuid.UUID
    location: OrukLocation
    service: OrukService | OrukServiceSummary


class OrukServicePage(Page[OrukService | OrukServiceSummary]):
    """A page of services: list shape, or fully nested with ``full=true``."""


class OrukOrganizationPage(Page[OrukOrganizationFull | OrukOrganization]):
    """A page of organizations."""


class OrukServiceAtLocationPage(Page[OrukServiceAtLocation]):
    """A page of services at locations."""


class OrukTaxonomyPage(Page[OrukTaxonomy]):
    """A page of taxonomies."""


class OrukTaxonomyTermPage(Page[OrukTaxonomyTerm]):
    """A page of taxonomy terms."""
