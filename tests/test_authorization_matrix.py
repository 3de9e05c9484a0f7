"""Every route by every kind of caller, generated from the app's route table.

A route without a rule here fails ``test_every_route_has_a_rule``. For each refusal the
test also checks that nothing stored changed.
"""

import pytest
from sqlalchemy import delete, select

from app.accounts.models import GlobalRole, SignInThrottle
from app.accounts.principal_cache import principals
from app.core.db import get_engine
from app.main import app
from app.models import metadata
from app.vocabulary.seed import seed_vocabulary
from tests.database import empty_everything
from tests.factories import (
    PASSWORD,
    activity_body,
    client_for,
    create_activity,
    create_organisation,
    create_venue,
    key_client,
    make_api_key,
    make_user,
    organisation_body,
    venue_body,
)
from tests.statements import Statements

CALLERS = [
    "anonymous",
    "link_worker",
    "commissioner",
    "commissioner_key",
    "steward",
    "admin",
    "own_editor",
    "own_admin",
    "other_editor",
    "other_admin",
]
EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {"anonymous"}
LISTING_EDITORS = frozenset({"steward", "admin", "own_editor", "own_admin"})
REGISTRARS = frozenset(
    {"steward", "admin", "own_editor", "own_admin", "other_editor", "other_admin"}
)
ADMIN = frozenset({"admin"})
MEMBER_MANAGERS = frozenset({"admin", "own_admin"})
AUDIT_READERS = frozenset({"steward", "admin", "own_admin", "other_admin"})
SEARCHERS = frozenset({"link_worker", "steward", "admin"})
ASSURANCE_SUBMITTERS = frozenset({"admin", "own_editor", "own_admin"})
RESPONDERS = frozenset({"steward", "commissioner", "commissioner_key", "admin"})
NEED_READERS = RESPONDERS | {"own_editor", "own_admin"}
REPORT_READERS = RESPONDERS
REFERRAL_READERS = frozenset({"link_worker", "admin", "own_editor", "own_admin"})
CURATORS = frozenset({"steward", "admin"})
PEOPLE = SIGNED_IN - {"commissioner_key"}  # notification preferences are a person's
WEBHOOK_MANAGERS = frozenset({"admin", "own_admin"})

# (method, path): (who may, status on success, request builder)
# A builder takes the world and returns (path, json body or None, headers).


def _get(path):
    return lambda w: (path.format(**w["ids"]), None, {})


def _write(path, body=None, if_match=None):
    def build(w):
        headers = {"If-Match": w["etags"][if_match]} if if_match else {}
        return path.format(**w["ids"]), body(w) if body else None, headers

    return build


RULES = {
    ("POST", "/v1/organisations"): (
        REGISTRARS,
        201,
        _write("/v1/organisations", lambda w: organisation_body()),
    ),
    ("PATCH", "/v1/organisations/{organisation_id}"): (
        LISTING_EDITORS,
        200,
        _write("/v1/organisations/{own_org}", lambda w: {"phone": "0117 496 0555"}, "own_org"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/verify"): (
        frozenset({"steward", "admin"}),
        200,
        _write("/v1/organisations/{own_org}/verify"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/archive"): (
        frozenset({"steward", "admin", "own_admin"}),
        200,
        _write("/v1/organisations/{own_org}/archive"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/closures"): (
        LISTING_EDITORS,
        201,
        _write("/v1/organisations/{own_org}/closures", lambda w: {"starts_on": "2027-01-05"}),
    ),
    ("DELETE", "/v1/organisations/{organisation_id}/closures/{closure_id}"): (
        LISTING_EDITORS,
        204,
        _write("/v1/organisations/{own_org}/closures/{closure}"),
    ),
    ("POST", "/v1/venues"): (
        LISTING_EDITORS,
        201,
        _write("/v1/venues", lambda w: venue_body(managed_by_organisation_id=w["ids"]["own_org"])),
    ),
    ("PATCH", "/v1/venues/{venue_id}"): (
        LISTING_EDITORS,
        200,
        _write("/v1/venues/{own_venue}", lambda w: {"name": "Renamed"}, "own_venue"),
    ),
    ("POST", "/v1/venues/{venue_id}/archive"): (
        LISTING_EDITORS,
        200,
        _write("/v1/venues/{own_venue}/archive"),
    ),
    ("POST", "/v1/activities"): (
        LISTING_EDITORS,
        201,
        _write("/v1/activities", lambda w: activity_body(w["ids"]["own_org"])),
    ),
    ("PATCH", "/v1/activities/{activity_id}"): (
        LISTING_EDITORS,
        200,
        _write("/v1/activities/{own_activity}", lambda w: {"name": "Renamed"}, "own_activity"),
    ),
    ("POST", "/v1/activities/{activity_id}/archive"): (
        LISTING_EDITORS,
        200,
        _write("/v1/activities/{own_activity}/archive"),
    ),
    ("GET", "/v1/me"): (SIGNED_IN, 200, _get("/v1/me")),
    ("POST", "/v1/me/password"): (
        PEOPLE,
        200,
        _write(
            "/v1/me/password",
            lambda w: {"current_password": PASSWORD, "password": "four unrelated words tonight"},
        ),
    ),
    ("POST", "/v1/users/{user_id}/password-reset"): (
        ADMIN,
        202,
        _write("/v1/users/{member}/password-reset"),
    ),
    ("GET", "/v1/me/notification-preferences"): (
        PEOPLE,
        200,
        _get("/v1/me/notification-preferences"),
    ),
    ("PUT", "/v1/me/notification-preferences"): (
        PEOPLE,
        200,
        _write(
            "/v1/me/notification-preferences",
            lambda w: {"preferences": [{"event_type": "referral.created", "mode": "off"}]},
        ),
    ),
    ("POST", "/v1/webhooks"): (
        WEBHOOK_MANAGERS,
        201,
        _write(
            "/v1/webhooks",
            lambda w: {
                "url": "https://hooks.example.org/signpost",
                "event_types": ["referral.created"],
                "organisation_id": w["ids"]["own_org"],
            },
        ),
    ),
    ("GET", "/v1/webhooks"): (WEBHOOK_MANAGERS | {"other_admin"}, 200, _get("/v1/webhooks")),
    ("GET", "/v1/webhooks/{webhook_id}"): (WEBHOOK_MANAGERS, 200, _get("/v1/webhooks/{webhook}")),
    ("PATCH", "/v1/webhooks/{webhook_id}"): (
        WEBHOOK_MANAGERS,
        200,
        _write("/v1/webhooks/{webhook}", lambda w: {"description": "Our CRM"}),
    ),
    ("DELETE", "/v1/webhooks/{webhook_id}"): (
        WEBHOOK_MANAGERS,
        204,
        _write("/v1/webhooks/{webhook}"),
    ),
    ("POST", "/v1/webhooks/{webhook_id}/ping"): (
        WEBHOOK_MANAGERS,
        202,
        _write("/v1/webhooks/{webhook}/ping"),
    ),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): (
        WEBHOOK_MANAGERS,
        200,
        _get("/v1/webhooks/{webhook}/deliveries"),
    ),
    ("GET", "/v1/notifications/failed"): (ADMIN, 200, _get("/v1/notifications/failed")),
    ("POST", "/v1/notifications/failed/{delivery_id}/retry"): (
        ADMIN,
        200,
        _write("/v1/notifications/failed/{failed_delivery}/retry"),
    ),
    ("GET", "/v1/users"): (ADMIN, 200, _get("/v1/users")),
    ("GET", "/v1/users/{user_id}"): (ADMIN, 200, _get("/v1/users/{member}")),
    ("PATCH", "/v1/users/{user_id}"): (
        ADMIN,
        200,
        _write("/v1/users/{member}", lambda w: {"is_active": False}),
    ),
    ("GET", "/v1/organisations/{organisation_id}/members"): (
        MEMBER_MANAGERS,
        200,
        _get("/v1/organisations/{own_org}/members"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/invitations"): (
        MEMBER_MANAGERS,
        201,
        _write(
            "/v1/organisations/{own_org}/invitations",
            lambda w: {"email": w["spare_email"], "role": "editor"},
        ),
    ),
    ("GET", "/v1/organisations/{organisation_id}/invitations"): (
        MEMBER_MANAGERS,
        200,
        _get("/v1/organisations/{own_org}/invitations"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/claims"): (
        frozenset({"link_worker", "commissioner", "steward", "admin", "other_admin"}),
        201,
        _write("/v1/organisations/{own_org}/claims", lambda w: {"role_email": "me@own.example"}),
    ),
    ("GET", "/v1/claims"): (SIGNED_IN, 200, _get("/v1/claims")),
    ("GET", "/v1/claims/{claim_id}"): (
        CURATORS | {"other_editor"},
        200,
        _get("/v1/claims/{claim}"),
    ),
    ("POST", "/v1/claims/{claim_id}/approve"): (
        CURATORS,
        200,
        _write("/v1/claims/{claim}/approve"),
    ),
    ("POST", "/v1/claims/{claim_id}/reject"): (
        CURATORS,
        200,
        _write("/v1/claims/{claim}/reject", lambda w: {"reason": "Not the same group"}),
    ),
    ("POST", "/v1/invitations"): (
        CURATORS,
        201,
        _write("/v1/invitations", lambda w: {"email": "new@test.example", "role": "link_worker"}),
    ),
    ("GET", "/v1/invitations"): (CURATORS, 200, _get("/v1/invitations")),
    ("DELETE", "/v1/invitations/{invitation_id}"): (
        MEMBER_MANAGERS,
        204,
        _write("/v1/invitations/{invitation}"),
    ),
    ("DELETE", "/v1/me/memberships/{organisation_id}"): (
        frozenset({"own_editor"}),
        204,
        _write("/v1/me/memberships/{own_org}"),
    ),
    ("DELETE", "/v1/me"): (
        frozenset({"link_worker", "commissioner", "steward", "own_editor", "other_editor"}),
        204,
        _write("/v1/me"),
    ),
    ("DELETE", "/v1/organisations/{organisation_id}/members/{user_id}"): (
        MEMBER_MANAGERS,
        204,
        _write("/v1/organisations/{own_org}/members/{member}"),
    ),
    ("GET", "/v1/api-keys"): (ADMIN, 200, _get("/v1/api-keys")),
    ("POST", "/v1/api-keys"): (
        ADMIN,
        201,
        _write("/v1/api-keys", lambda w: {"name": "n", "role": "commissioner"}),
    ),
    ("POST", "/v1/api-keys/{key_id}/revoke"): (
        ADMIN,
        200,
        _write("/v1/api-keys/{spare_key}/revoke"),
    ),
    ("GET", "/v1/audit"): (AUDIT_READERS, 200, _get("/v1/audit")),
    ("GET", "/v1/referral-options"): (SEARCHERS, 200, _get("/v1/referral-options")),
    ("PATCH", "/v1/activities/{activity_id}/capacity"): (
        LISTING_EDITORS,
        200,
        _write("/v1/activities/{own_activity}/capacity", lambda w: {"maximum": 8}, "capacity"),
    ),
    ("GET", "/v1/activities/{activity_id}/capacity/history"): (
        LISTING_EDITORS | {"commissioner", "commissioner_key"},
        200,
        _get("/v1/activities/{own_activity}/capacity/history"),
    ),
    ("POST", "/v1/referrals"): (
        frozenset({"link_worker"}),
        201,
        _write("/v1/referrals", lambda w: w["referral_body"]),
    ),
    ("GET", "/v1/referrals"): (
        frozenset(
            {"link_worker", "admin", "own_editor", "own_admin", "other_editor", "other_admin"}
        ),
        200,
        _get("/v1/referrals"),
    ),
    ("GET", "/v1/referrals/{referral_id}"): (
        REFERRAL_READERS,
        200,
        _get("/v1/referrals/{referral}"),
    ),
    ("POST", "/v1/referrals/{referral_id}/transitions"): (
        REFERRAL_READERS - {"link_worker"},
        200,
        _write("/v1/referrals/{referral}/transitions", lambda w: {"status": "accepted"}),
    ),
    ("GET", "/v1/organisations/{organisation_id}/assurance"): (
        SIGNED_IN,
        200,
        _get("/v1/organisations/{own_org}/assurance"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/assurance-items"): (
        ASSURANCE_SUBMITTERS,
        201,
        _write(
            "/v1/organisations/{own_org}/assurance-items",
            lambda w: {"kind": "safeguarding_lead", "role_title": "Volunteer coordinator"},
        ),
    ),
    ("GET", "/v1/assurance-items"): (
        frozenset({"steward", "admin"}),
        200,
        _get("/v1/assurance-items"),
    ),
    ("GET", "/v1/assurance-items/{item_id}"): (SIGNED_IN, 200, _get("/v1/assurance-items/{item}")),
    ("PATCH", "/v1/assurance-items/{item_id}"): (
        ASSURANCE_SUBMITTERS,
        200,
        _write("/v1/assurance-items/{item}", lambda w: {"insurer": "Other Mutual"}, "item"),
    ),
    ("POST", "/v1/assurance-items/{item_id}/verify"): (
        frozenset({"steward"}),
        200,
        _write("/v1/assurance-items/{item}/verify"),
    ),
    ("POST", "/v1/assurance-items/{item_id}/reject"): (
        frozenset({"steward"}),
        200,
        _write("/v1/assurance-items/{item}/reject", lambda w: {"reason": "Out of date"}),
    ),
    ("GET", "/v1/organisations/{organisation_id}/review-queue"): (
        LISTING_EDITORS,
        200,
        _get("/v1/organisations/{own_org}/review-queue"),
    ),
    ("POST", "/v1/activities/{activity_id}/confirm"): (
        LISTING_EDITORS,
        200,
        _write("/v1/activities/{own_activity}/confirm"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/support-needs"): (
        ASSURANCE_SUBMITTERS,
        201,
        _write(
            "/v1/organisations/{own_org}/support-needs",
            lambda w: {"category_id": w["support_category"], "urgency": "low", "description": "d"},
        ),
    ),
    ("GET", "/v1/support-needs"): (
        SIGNED_IN - {"link_worker"},
        200,
        _get("/v1/support-needs"),
    ),
    ("GET", "/v1/support-needs/{need_id}"): (
        NEED_READERS,
        200,
        _get("/v1/support-needs/{need}"),
    ),
    ("POST", "/v1/support-needs/{need_id}/transitions"): (
        RESPONDERS,
        200,
        _write("/v1/support-needs/{need}/transitions", lambda w: {"status": "acknowledged"}),
    ),
    ("POST", "/v1/support-needs/{need_id}/messages"): (
        NEED_READERS,
        201,
        _write("/v1/support-needs/{need}/messages", lambda w: {"body": "Hello"}),
    ),
    ("GET", "/v1/support-needs/{need_id}/matches"): (
        NEED_READERS,
        200,
        _get("/v1/support-needs/{shared_need}/matches"),
    ),
    ("POST", "/v1/organisations/{organisation_id}/support-offers"): (
        ASSURANCE_SUBMITTERS,
        201,
        _write(
            "/v1/organisations/{own_org}/support-offers",
            lambda w: {"category_id": w["support_category"], "description": "A hall"},
        ),
    ),
    ("GET", "/v1/support-offers"): (SIGNED_IN, 200, _get("/v1/support-offers")),
    ("POST", "/v1/support-offers/{offer_id}/withdraw"): (
        ASSURANCE_SUBMITTERS,
        200,
        _write("/v1/support-offers/{offer}/withdraw"),
    ),
    ("POST", "/v1/taxonomy-terms"): (
        CURATORS,
        201,
        _write(
            "/v1/taxonomy-terms",
            lambda w: {"taxonomy": "need", "code": "hoarding", "name": "Hoarding"},
        ),
    ),
    ("PATCH", "/v1/taxonomy-terms/{term_id}"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{need_term}", lambda w: {"description": "Alone"}, "need_term"),
    ),
    ("POST", "/v1/taxonomy-terms/{term_id}/retire"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{need_term}/retire"),
    ),
    ("POST", "/v1/taxonomy-terms/{term_id}/reinstate"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{retired_term}/reinstate"),
    ),
    ("POST", "/v1/taxonomy-terms/{term_id}/synonyms"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{need_term}/synonyms", lambda w: {"text": "no mates"}),
    ),
    ("DELETE", "/v1/taxonomy-terms/{term_id}/synonyms/{text}"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{need_term}/synonyms/lonely"),
    ),
    ("GET", "/v1/external-terms"): (CURATORS, 200, _get("/v1/external-terms?unmapped=true")),
    ("PUT", "/v1/external-terms/{external_term_id}/mapping"): (
        CURATORS,
        200,
        _write(
            "/v1/external-terms/{external_term}/mapping",
            lambda w: {"term_id": w["ids"]["linked_category"]},
        ),
    ),
    ("DELETE", "/v1/external-terms/{external_term_id}/mapping"): (
        CURATORS,
        200,
        _write("/v1/external-terms/{external_term}/mapping"),
    ),
    ("PUT", "/v1/taxonomy-terms/{term_id}/helped-by/{category_id}"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{need_term}/helped-by/{unlinked_category}"),
    ),
    ("DELETE", "/v1/taxonomy-terms/{term_id}/helped-by/{category_id}"): (
        CURATORS,
        200,
        _write("/v1/taxonomy-terms/{need_term}/helped-by/{linked_category}"),
    ),
    ("GET", "/v1/teams"): (SIGNED_IN, 200, _get("/v1/teams")),
    ("GET", "/v1/referral-options/{activity_id}/summary"): (
        SEARCHERS,
        200,
        _get("/v1/referral-options/{own_activity}/summary"),
    ),
    ("GET", "/v1/referrals/{referral_id}/summary"): (
        REFERRAL_READERS,
        200,
        _get("/v1/referrals/{referral}/summary?name=true"),
    ),
    ("GET", "/v1/referrals/{referral_id}/wellbeing"): (
        REFERRAL_READERS,
        200,
        _get("/v1/referrals/{referral}/wellbeing"),
    ),
    ("PUT", "/v1/referrals/{referral_id}/wellbeing/{stage}"): (
        REFERRAL_READERS,
        200,
        _write(
            "/v1/referrals/{referral}/wellbeing/completion",
            lambda w: {"life_satisfaction": 6, "worthwhile": 6, "happiness": 5, "anxiety": 4},
        ),
    ),
    ("GET", "/v1/teams/{team_id}"): (
        CURATORS | {"link_worker"},  # stewards and admins, and the team's members
        200,
        _get("/v1/teams/{team}"),
    ),
    ("POST", "/v1/teams"): (
        CURATORS,
        201,
        _write("/v1/teams", lambda w: {"name": "South link workers"}),
    ),
    ("PUT", "/v1/teams/{team_id}/members/{user_id}"): (
        CURATORS,
        200,
        _write("/v1/teams/{team}/members/{spare_link_worker}"),
    ),
    ("DELETE", "/v1/teams/{team_id}/members/{user_id}"): (
        CURATORS,
        200,
        _write("/v1/teams/{team}/members/{colleague}"),
    ),
    ("POST", "/v1/referrals/{referral_id}/handover"): (
        frozenset({"link_worker", "admin"}),
        200,
        _write(
            "/v1/referrals/{referral}/handover", lambda w: {"to_user_id": w["ids"]["colleague"]}
        ),
    ),
    ("POST", "/v1/areas"): (
        CURATORS,
        201,
        _write("/v1/areas", lambda w: {"kind": "pcn", "name": "East PCN", "places": ["BS5"]}),
    ),
    ("PATCH", "/v1/areas/{area_id}"): (
        CURATORS,
        200,
        _write("/v1/areas/{area}", lambda w: {"places": ["BS5 6", "BS5 0"]}, "area"),
    ),
    ("DELETE", "/v1/areas/{area_id}"): (CURATORS, 204, _write("/v1/areas/{area}")),
    ("GET", "/v1/reports/area-profile"): (
        REPORT_READERS,
        200,
        _get("/v1/reports/area-profile?area={area}"),
    ),
    ("GET", "/v1/vocabulary/unmatched-phrases"): (
        CURATORS,
        200,
        _get("/v1/vocabulary/unmatched-phrases"),
    ),
    **{
        ("GET", f"/v1/reports/{name}"): (REPORT_READERS, 200, _get(f"/v1/reports/{name}"))
        for name in (
            "referrals",
            "capacity",
            "capacity-history",
            "unmet-demand",
            "assurance",
            "support-needs",
        )
    },
}

# Refusals other than 403: a referral is 404 to anyone who may not read it, so its
# existence is not given away; the referring link worker may read it but not answer it.
NOT_FOUND_TO_OUTSIDERS = {
    ("GET", "/v1/referrals/{referral_id}"): {},
    ("GET", "/v1/referrals/{referral_id}/summary"): {},
    ("GET", "/v1/referrals/{referral_id}/wellbeing"): {},
    ("PUT", "/v1/referrals/{referral_id}/wellbeing/{stage}"): {},
    # The receiving organisation reads a referral but does not hand it over.
    ("POST", "/v1/referrals/{referral_id}/handover"): {"own_editor": 403, "own_admin": 403},
    # A team exists for its members, stewards and admins.
    ("GET", "/v1/teams/{team_id}"): {},
    ("POST", "/v1/referrals/{referral_id}/transitions"): {"link_worker": 403},
    # A need shared with responders only does not exist for other organisations.
    ("GET", "/v1/support-needs/{need_id}"): {},
    ("POST", "/v1/support-needs/{need_id}/transitions"): {"own_editor": 403, "own_admin": 403},
    ("POST", "/v1/support-needs/{need_id}/messages"): {},
    # A need shared with peers is seen by other organisations, but its matches are not.
    ("GET", "/v1/support-needs/{need_id}/matches"): {},
    # Members do not claim their own organisation; keys claim nothing.
    ("POST", "/v1/organisations/{organisation_id}/claims"): {
        "other_editor": 409,  # the world's claimant, whose claim is pending
        "own_editor": 409,
        "own_admin": 409,
        "commissioner_key": 403,
    },
    # A claim exists for its claimant (who may not decide it) and for stewards and admins.
    ("GET", "/v1/claims/{claim_id}"): {},
    ("POST", "/v1/claims/{claim_id}/approve"): {"other_editor": 403},
    ("POST", "/v1/claims/{claim_id}/reject"): {"other_editor": 403},
    # Another organisation's invitation does not exist for you.
    ("DELETE", "/v1/invitations/{invitation_id}"): {},
    # Only a member leaves; the organisation's only admin stays (409).
    ("DELETE", "/v1/me/memberships/{organisation_id}"): {"own_admin": 409},
    # The last admin (of Signpost or of an organisation) hands over first; keys are revoked.
    ("DELETE", "/v1/me"): {
        "admin": 409,
        "own_admin": 409,
        "other_admin": 409,
        "commissioner_key": 403,
    },
    # Another organisation's webhook does not exist for you.
    ("GET", "/v1/webhooks/{webhook_id}"): {},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {},
    ("DELETE", "/v1/webhooks/{webhook_id}"): {},
    ("POST", "/v1/webhooks/{webhook_id}/ping"): {},
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): {},
}

# Open to everyone, anonymous included (published listings, vocabulary, health, sign-in).
PUBLIC = {
    ("GET", "/v1/organisations"): "/v1/organisations",
    ("GET", "/v1/organisations/{organisation_id}"): "/v1/organisations/{own_org}",
    ("GET", "/v1/venues"): "/v1/venues",
    ("GET", "/v1/venues/{venue_id}"): "/v1/venues/{own_venue}",
    ("GET", "/v1/activities"): "/v1/activities",
    ("GET", "/v1/activities/{activity_id}"): "/v1/activities/{own_activity}",
    ("GET", "/v1/activities/{activity_id}/capacity"): "/v1/activities/{own_activity}/capacity",
    ("GET", "/v1/organisations/{organisation_id}/closures"): "/v1/organisations/{own_org}/closures",
    ("GET", "/v1/taxonomies"): "/v1/taxonomies",
    ("GET", "/v1/taxonomies/{taxonomy_id}"): None,
    ("GET", "/v1/taxonomy-terms"): "/v1/taxonomy-terms",
    ("GET", "/v1/taxonomy-terms/{term_id}"): None,
    ("GET", "/healthz"): "/healthz",
    ("GET", "/readyz"): "/readyz",
    # The one-click link in freshness emails: its signed token is the credential
    # (tests/test_notifications_delivery.py checks who and what it lets through).
    ("GET", "/v1/still-accurate"): None,
    ("POST", "/v1/still-accurate"): None,
    ("POST", "/v1/auth/token"): None,  # tested in test_accounts.py
    # Signing up and resetting a password: for people without a token (test_self_service.py)
    ("POST", "/v1/auth/sign-up"): None,
    ("POST", "/v1/auth/verify-email"): None,
    ("POST", "/v1/auth/forgot-password"): None,
    ("POST", "/v1/auth/reset-password"): None,
    # Answering an invitation: its token is the credential (test_invitations.py)
    ("POST", "/v1/invitations/accept"): None,
    ("POST", "/v1/invitations/decline"): None,
    # Areas are public knowledge; keeping them is for stewards and admins (RULES).
    ("GET", "/v1/areas"): "/v1/areas",
    ("GET", "/v1/areas/{area_id}"): "/v1/areas/{area}",
    # The Open Referral UK feed (test_openreferral_feed.py checks what it shows)
    ("GET", "/openreferral/"): "/openreferral/",
    ("GET", "/openreferral/services"): "/openreferral/services?full=true",
    ("GET", "/openreferral/services/{id}"): "/openreferral/services/{own_activity}",
    ("GET", "/openreferral/organizations"): "/openreferral/organizations?full=true",
    ("GET", "/openreferral/organizations/{id}"): "/openreferral/organizations/{own_org}",
    ("GET", "/openreferral/service_at_locations"): "/openreferral/service_at_locations?full=true",
    ("GET", "/openreferral/service_at_locations/{id}"): None,
    ("GET", "/openreferral/taxonomies"): "/openreferral/taxonomies",
    ("GET", "/openreferral/taxonomies/{id}"): None,
    ("GET", "/openreferral/taxonomy_terms"): "/openreferral/taxonomy_terms",
    ("GET", "/openreferral/taxonomy_terms/{id}"): "/openreferral/taxonomy_terms/{need_term}",
}


def _routes() -> set[tuple[str, str]]:
    # The OpenAPI paths are built from the app's route table (this FastAPI wraps included
    # routers, so app.routes does not list them directly).
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_route_has_a_rule():
    routes = _routes()
    unruled = routes - set(RULES) - set(PUBLIC)
    assert not unruled, f"add these routes to RULES or PUBLIC: {sorted(unruled)}"
    assert set(RULES) | set(PUBLIC) <= routes, "rules for routes that no longer exist"


class _Kept:
    """The world of the last test, kept for the next while it is as it was built: a refused
    request changes nothing stored (each test proves it) and an allowed read adds at most
    an audit entry, so only an allowed write, or a failed test, costs a fresh world. About
    one test in six builds one instead of every test."""

    world: dict | None = None
    unchanged = False


@pytest.fixture(autouse=True)
def empty_tables():
    """Replaces conftest's: the tables are emptied only when the world must be rebuilt."""
    _Kept.unchanged = False
    yield
    if _Kept.unchanged:
        with get_engine().begin() as connection:  # refused sign-ins count towards a lockout
            connection.execute(delete(SignInThrottle))
    else:
        _Kept.world = None
        empty_everything()


@pytest.fixture(scope="module", autouse=True)
def empty_after_the_matrix():
    yield
    _Kept.world = None
    empty_everything()


@pytest.fixture
def world(session):
    if _Kept.world is None:
        _Kept.world = build_world(session, client_for(make_user(session, role=GlobalRole.admin)))
    return _Kept.world


def left_unchanged() -> None:
    """Called by a test that has proved it changed nothing the next test would notice."""
    _Kept.unchanged = True


def build_world(session, client):
    """Two published organisations, one with a venue, an activity, a referral, support
    needs and an offer and an assurance item, and one client per kind of caller."""
    own = create_organisation(client, status="published")
    other = create_organisation(client, status="published")
    venue = create_venue(client, managed_by_organisation_id=own["id"])
    activity = create_activity(
        client, own["id"], venue_ids=[venue["id"]], access_modes=["referral", "drop_in"]
    )
    vocabulary = seed_vocabulary(session)
    need = vocabulary["social-isolation"]
    session.commit()
    retired = client.post(f"/v1/taxonomy-terms/{vocabulary['bereavement'].id}/retire")
    assert retired.status_code == 200, retired.text
    referral_body = {
        "activity_id": activity["id"],
        "person_reference": "LW-1",
        "need_ids": [str(need.id)],
        "consent_confirmed": True,
        "contact": {"first_name": "Sam", "email": "sam@test.example"},
        "wellbeing": {"life_satisfaction": 4, "worthwhile": 5, "happiness": 4, "anxiety": 7},
    }
    member = make_user(session, member_of={own["id"]: "editor"})
    spare = make_user(session)
    callers = {
        "anonymous": client_for(None),
        "link_worker": client_for(make_user(session, role=GlobalRole.link_worker)),
        "commissioner": client_for(make_user(session, role=GlobalRole.commissioner)),
        "commissioner_key": key_client(make_api_key(session, role=GlobalRole.commissioner)),
        "steward": client_for(make_user(session, role=GlobalRole.steward)),
        "admin": client,
        "own_editor": client_for(make_user(session, member_of={own["id"]: "editor"})),
        "own_admin": client_for(make_user(session, member_of={own["id"]: "admin"})),
        "other_editor": client_for(make_user(session, member_of={other["id"]: "editor"})),
        "other_admin": client_for(make_user(session, member_of={other["id"]: "admin"})),
    }
    referral = callers["link_worker"].post("/v1/referrals", json=referral_body).json()
    # The link worker's team, with a colleague to hand referrals to.
    team = client.post("/v1/teams", json={"name": "East link workers"}).json()
    colleague = make_user(session, role=GlobalRole.link_worker)
    for team_member in (callers["link_worker"].get("/v1/me").json()["id"], colleague.id):
        client.put(f"/v1/teams/{team['id']}/members/{team_member}")
    claim = (
        callers["other_editor"]
        .post(f"/v1/organisations/{own['id']}/claims", json={"role_email": "ed@own.example"})
        .json()
    )
    support_category = str(seed_vocabulary(session)["volunteers"].id)
    need_body = {"category_id": support_category, "urgency": "high", "description": "Help"}
    need = client.post(f"/v1/organisations/{own['id']}/support-needs", json=need_body).json()
    shared_need = client.post(
        f"/v1/organisations/{own['id']}/support-needs", json={**need_body, "visibility": "peers"}
    ).json()
    offer = client.post(
        f"/v1/organisations/{own['id']}/support-offers",
        json={"category_id": support_category, "description": "Our hall"},
    ).json()
    item = client.post(
        f"/v1/organisations/{own['id']}/assurance-items",
        json={
            "kind": "public_liability_insurance",
            "insurer": "Mutual",
            "expires_on": "2099-01-01",
        },
    ).json()
    webhook = client.post(
        "/v1/webhooks",
        json={
            "url": "https://hooks.example.org/own",
            "event_types": ["referral.created"],
            "organisation_id": own["id"],
        },
    ).json()
    failed_delivery = _failed_delivery(session, webhook["id"])
    invitation = client.post(
        f"/v1/organisations/{own['id']}/invitations", json={"email": "invited@test.example"}
    ).json()
    spare_key = make_api_key(session, role=GlobalRole.link_worker)
    from app.accounts.models import ApiKey

    spare_key_id = session.scalars(select(ApiKey.id).where(ApiKey.prefix == spare_key[3:15])).one()
    area = client.post(
        "/v1/areas", json={"kind": "ward", "name": "Easton", "places": ["BS5 6"]}
    ).json()
    closure = client.post(
        f"/v1/organisations/{own['id']}/closures",
        json={"starts_on": "2027-12-24", "ends_on": "2028-01-02", "reason": "Christmas"},
    ).json()
    etags = {
        name: client.get(path).headers["etag"]
        for name, path in (
            ("area", f"/v1/areas/{area['id']}"),
            ("own_org", f"/v1/organisations/{own['id']}"),
            ("own_venue", f"/v1/venues/{venue['id']}"),
            ("own_activity", f"/v1/activities/{activity['id']}"),
            ("capacity", f"/v1/activities/{activity['id']}/capacity"),
            ("item", f"/v1/assurance-items/{item['id']}"),
            ("need_term", f"/v1/taxonomy-terms/{vocabulary['social-isolation'].id}"),
        )
    }
    return {
        "callers": callers,
        "etags": etags,
        "spare_email": spare.email,
        "referral_body": referral_body,
        "support_category": support_category,
        "ids": {
            "own_org": own["id"],
            "own_venue": venue["id"],
            "own_activity": activity["id"],
            "member": str(member.id),
            "spare_key": str(spare_key_id),
            "referral": referral["id"],
            "webhook": webhook["id"],
            "invitation": invitation["id"],
            "claim": claim["id"],
            "failed_delivery": failed_delivery,
            "item": item["id"],
            "need": need["id"],
            "shared_need": shared_need["id"],
            "offer": offer["id"],
            "need_term": str(vocabulary["social-isolation"].id),
            "retired_term": str(vocabulary["bereavement"].id),
            "linked_category": str(vocabulary["befriending"].id),
            "unlinked_category": str(vocabulary["advice"].id),
            "external_term": _external_term(session, vocabulary["advice"].id),
            "team": team["id"],
            "colleague": str(colleague.id),
            "spare_link_worker": str(make_user(session, role=GlobalRole.link_worker).id),
            "area": area["id"],
            "closure": closure["id"],
        },
    }


def _external_term(session, mapped_to) -> str:
    """A term of another directory's taxonomy, as an import keeps it, mapped by a steward."""
    from app.core.types import utcnow
    from app.openreferral.models import ExternalTerm

    term = ExternalTerm(
        source="https://elsewhere.example/openreferral",
        external_id="walking-football",
        taxonomy="Their activities",
        name="Walking football",
        term_id=mapped_to,
        first_seen_at=utcnow(),
    )
    session.add(term)
    session.commit()
    return str(term.id)


def _failed_delivery(session, webhook_id) -> str:
    """A delivery that ran out of attempts, for the dead-letter routes."""
    import uuid

    from app.core.types import utcnow
    from app.notifications.models import Delivery, DeliveryStatus, OutboxEvent

    event = OutboxEvent(type="referral.created", payload={}, dispatched_at=utcnow())
    session.add(event)
    session.flush()
    delivery = Delivery(
        event_id=event.id,
        channel="webhook",
        webhook_id=uuid.UUID(webhook_id),
        status=DeliveryStatus.failed,
        attempts=8,
        next_attempt_at=utcnow(),
        last_error="HTTP 500",
    )
    session.add(delivery)
    session.commit()
    return str(delivery.id)


# What reads may write: an API key's last use, noted now and then; a search's log row and
# demand count, written after the answer in the search log's own transaction (which does
# not wait for the disk).
WRITTEN_BY_ANY_READ = (
    "UPDATE api_key SET last_used_at",
    "INSERT INTO search_log",
    "INSERT INTO search_demand_day",
    "SET LOCAL synchronous_commit = off",
)
# Reads that keep a transaction: reading a referral's personal details writes an audit
# entry with it; reports set planner costs for theirs (SET LOCAL).
AUDITED_READS = {
    ("GET", "/v1/referrals"),
    ("GET", "/v1/referrals/{referral_id}"),
    ("GET", "/v1/referrals/{referral_id}/summary"),
    ("GET", "/v1/referrals/{referral_id}/wellbeing"),  # the world's referral has a baseline
}
# A list audits only the people whose references it shows: those a link worker's team sent.
AUDITED_FOR_SOME = {("GET", "/v1/referrals")}
REPORTS = {route for route in RULES if route[0] == "GET" and route[1].startswith("/v1/reports")}
READS_IN_A_TRANSACTION = (
    AUDITED_READS
    | {("GET", "/readyz")}  # checks the schema's version as a request's session would
    | REPORTS
)


def stored_rows(session):
    session.expire_all()
    return {
        table.name: sorted(map(repr, session.execute(select(table)).all()))
        for table in metadata.sorted_tables
        if table.name != "sign_in_throttle"
    }


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", sorted(RULES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_caller_gets_exactly_what_its_role_allows(world, session, route, caller):
    allowed, success, build = RULES[route]
    method, _ = route
    path, body, headers = build(world)
    before = stored_rows(session)

    # The caller is looked up afresh, so it is remembered for the seconds that follow,
    # not for what is left of an earlier test's (see _reads_alone).
    principals.clear()
    with Statements() as ran:
        response = world["callers"][caller].request(method, path, json=body, headers=headers)

    if caller in allowed:
        assert response.status_code == success, response.text
        if method != "GET":
            # The README promises that every write is in the audit log.
            written = stored_rows(session)["audit_entry"]
            assert len(written) > len(before["audit_entry"]), f"{route} left no audit entry"
        else:
            _reads_alone(world["callers"][caller], route, path, headers, success, ran)
            left_unchanged()
        return
    if caller == "anonymous":
        expected = 401
    elif route in NOT_FOUND_TO_OUTSIDERS:
        expected = NOT_FOUND_TO_OUTSIDERS[route].get(caller, 404)
    else:
        expected = 403
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert stored_rows(session) == before
    left_unchanged()


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", [r for r, p in PUBLIC.items() if p], ids=lambda r: r[1])
def test_public_reads_are_open_to_everyone(world, route, caller):
    path = PUBLIC[route].format(**world["ids"])
    principals.clear()
    with Statements() as ran:
        assert world["callers"][caller].get(path).status_code == 200
    _reads_alone(world["callers"][caller], route, path, {}, 200, ran)
    left_unchanged()


def _reads_alone(caller, route, path, headers, success, ran) -> None:
    """A read writes nothing (but WRITTEN_BY_ANY_READ, and the audit entry of a referral's
    personal details), so it reads in autocommit, without BEGIN and COMMIT round trips
    (StatementSessionDep). Asked again, once the caller is remembered (the first time,
    looking them up began the request's transaction, which the route then shares), none of
    its statements is in a transaction, but for READS_IN_A_TRANSACTION. The first request
    looked the caller up afresh, so the second comes well within the seconds it is
    remembered (SIGNPOST_AUTH_CACHE_SECONDS); when the first was answered from an earlier
    test's entry, that entry could lapse in between."""
    writes = ran.writes(besides=WRITTEN_BY_ANY_READ)
    audited = [w for w in writes if w.startswith("INSERT INTO audit_entry")]
    assert writes == (audited if route in AUDITED_READS else []), route
    if route not in AUDITED_FOR_SOME:
        assert bool(audited) == (route in AUDITED_READS), route
    with Statements() as again:
        assert caller.request("GET", path, headers=headers).status_code == success
    if route not in READS_IN_A_TRANSACTION:
        assert again.in_a_transaction(besides=WRITTEN_BY_ANY_READ) == [], route
    # One connection, shared by whatever loaded the read's subject and the read itself (a
    # report may read two halves at once on two: app/reports/side_by_side.py).
    assert again.connections(besides=WRITTEN_BY_ANY_READ) <= (2 if route in REPORTS else 1), route
