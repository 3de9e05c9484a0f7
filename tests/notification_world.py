"""Real receivers for notification tests: an SMTP server (aiosmtpd) and an HTTP endpoint on
loopback, plus a small world of organisations and people with known email addresses."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.models import GlobalRole, User
from app.core.config import get_settings
from app.notifications.worker import Worker
from app.vocabulary.seed import seed_vocabulary
from tests.factories import client_for, create_activity, create_organisation, make_user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An SMTP server on loopback that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse = False
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, _server, _session, envelope) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpt, m in self.messages if address in rcpt]

    @property
    def recipients(self) -> list[str]:
        return sorted(r for rcpt, _ in self.messages for r in rcpt)


@dataclass
class Receiver:
    """An HTTP endpoint on loopback that records each POST and answers ``status``."""

    status: int = 204
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def deliver_all(rounds: int = 5) -> None:
    """Run the worker until nothing is left that is due now."""
    worker = Worker(sweep=False)
    for _ in range(rounds):
        if not worker.run_once():
            return


def use_smtp(monkeypatch, inbox: Inbox) -> None:
    monkeypatch.setenv("SIGNPOST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SIGNPOST_SMTP_PORT", str(inbox.controller.port))
    monkeypatch.setenv("SIGNPOST_SMTP_SECURITY", "none")
    get_settings.cache_clear()


@dataclass
class People:
    admin: TestClient
    link_worker: TestClient
    link_worker_user: User
    provider: TestClient  # the receiving organisation's editor
    provider_user: User
    provider_admin: TestClient
    provider_admin_user: User
    other_admin: TestClient
    other_admin_user: User
    steward: TestClient
    steward_user: User
    organisation: dict
    other: dict
    activity: dict
    needs: dict[str, str]

    def refer(self) -> dict:
        response = self.link_worker.post(
            "/v1/referrals",
            json={
                "activity_id": self.activity["id"],
                "person_reference": "LW-5150",
                "need_ids": [self.needs["social-isolation"]],
                "consent_confirmed": True,
                "contact": {"first_name": "Marigold", "phone": "07700 900456"},
                "note": "Marigold prefers mornings.",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()


def build_people(session: Session, admin: TestClient) -> People:
    needs = {code: str(term.id) for code, term in seed_vocabulary(session).items()}
    session.commit()
    organisation = create_organisation(admin, status="published", name="Easton Community Hub")
    other = create_organisation(admin, status="published", name="Redland Friends")
    activity = create_activity(
        admin, organisation["id"], name="Easton Walking Group", access_modes=["referral"]
    )
    users = {
        "link_worker": make_user(session, role=GlobalRole.link_worker),
        "provider": make_user(session, member_of={organisation["id"]: "editor"}),
        "provider_admin": make_user(session, member_of={organisation["id"]: "admin"}),
        "other_admin": make_user(session, member_of={other["id"]: "admin"}),
        "steward": make_user(session, role=GlobalRole.steward),
    }
    return People(
        admin=admin,
        link_worker=client_for(users["link_worker"]),
        link_worker_user=users["link_worker"],
        provider=client_for(users["provider"]),
        provider_user=users["provider"],
        provider_admin=client_for(users["provider_admin"]),
        provider_admin_user=users["provider_admin"],
        other_admin=client_for(users["other_admin"]),
        other_admin_user=users["other_admin"],
        steward=client_for(users["steward"]),
        steward_user=users["steward"],
        organisation=organisation,
        other=other,
        activity=activity,
        needs=needs,
    )
