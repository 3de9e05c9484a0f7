"""Property-based fuzzing of every operation in the OpenAPI document with schemathesis:
generated requests (valid and invalid), sent anonymously and as each kind of caller,
must never get a 5xx, and every answer must have a documented status code, match its
documented schema and come in a documented media type.

Examples per operation: SIGNPOST_FUZZ_EXAMPLES (default 5; `make fuzz` runs 50 and adds
schemathesis's coverage phase, SIGNPOST_FUZZ_COVERAGE=1; README has counts and times).
"""

import os
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.accounts.models import GlobalRole
from app.main import app
from tests.factories import (
    client_for,
    create_activity,
    create_organisation,
    create_venue,
    make_user,
    token_for,
)

EXAMPLES = int(os.environ.get("SIGNPOST_FUZZ_EXAMPLES", "5"))
COVERAGE = os.environ.get("SIGNPOST_FUZZ_COVERAGE", "") == "1"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# The coverage phase (every boundary and type violation of every parameter, as explicit
# examples) multiplies the run several times over: `make fuzz` turns it on.
schema.config.phases.coverage.enabled = COVERAGE


@dataclass
class Callers:
    headers: dict[str, dict[str, str]]


@pytest.fixture
def callers(session) -> Callers:
    """A small directory, and a token for each kind of caller (the tables are emptied after
    each operation's run, so each gets its own)."""
    admin = make_user(session, role=GlobalRole.admin)
    admin_client = client_for(admin)
    organisation = create_organisation(admin_client, status="published")
    venue = create_venue(admin_client, managed_by_organisation_id=organisation["id"])
    create_activity(admin_client, organisation["id"], venue_ids=[venue["id"]])
    users = {
        "link_worker": make_user(session, role=GlobalRole.link_worker),
        "commissioner": make_user(session, role=GlobalRole.commissioner),
        "steward": make_user(session, role=GlobalRole.steward),
        "admin": admin,
        "org_editor": make_user(session, member_of={organisation["id"]: "editor"}),
        "org_admin": make_user(session, member_of={organisation["id"]: "admin"}),
    }
    headers = {"anonymous": {}}
    headers |= {name: {"Authorization": f"Bearer {token_for(u)}"} for name, u in users.items()}
    return Callers(headers)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run: CI failures reproduce locally
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_errors_or_breaks_its_schema(case, callers):
    for headers in callers.headers.values():
        case.call_and_validate(headers=headers, checks=CHECKS)
