"""Sending: email over SMTP (or into a folder in development), and signed webhook POSTs
(Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``)."""

import contextlib
import ipaddress
import json
import smtplib
import socket
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.core.config import get_settings


class DeliveryFailed(Exception):
    """A delivery that did not go through; the message is safe to store and log."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason[:300]
        self.status = status


# --- email --------------------------------------------------------------------------------


class Mailer:
    """One SMTP connection for a batch of messages (or a folder of .eml files when
    SIGNPOST_SMTP_HOST is unset, so a newcomer can read what would have been sent)."""

    def __init__(self) -> None:
        self._settings = get_settings()
        self._smtp: smtplib.SMTP | None = None

    def send(self, to: str, subject: str, body: str, message_id: str) -> None:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(idstring=message_id, domain="signpost")
        message.set_content(body)
        if not self._settings.smtp_host:
            folder = Path(self._settings.mail_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{message_id}.eml").write_bytes(bytes(message))
            return
        try:
            self._connection().send_message(message)
        except smtplib.SMTPResponseException as error:
            self.close()
            raise DeliveryFailed(f"SMTP {error.smtp_code}", error.smtp_code) from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise DeliveryFailed(f"SMTP {type(error).__name__}") from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self._settings
            if s.smtp_security == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    timeout=s.smtp_timeout_seconds,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None


# --- webhooks -----------------------------------------------------------------------------


def check_destination(url: str) -> str | None:
    """Why ``url`` may not receive webhooks, or None. Outside development only https, and
    never an address on loopback, private, link-local or other reserved ranges (a webhook
    must not become a way to reach inside our network)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if get_settings().webhooks_may_reach_private:
        return None
    if parts.scheme != "https":
        return "must be an https:// URL"
    try:
        _public_address(parts.hostname, port or 443)
    except DeliveryFailed as refused:
        return refused.reason
    return None


def _public_address(host: str, port: int) -> str:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DeliveryFailed("its host name does not resolve") from None
    addresses = [info[4][0] for info in found]
    if get_settings().webhooks_may_reach_private:
        return addresses[0]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise DeliveryFailed("resolves to a private, loopback or reserved address")
    return addresses[0]


class WebhookSender:
    """Signed POSTs. The host is resolved once and the connection made to that address
    (with the name kept for Host and TLS), so a name cannot resolve to a public address
    for the check and a private one for the request."""

    def __init__(self) -> None:
        # Imported here: only the notifications worker sends; every API worker imports this
        # module (to check destinations) and would carry httpx (about 6 MB) for nothing.
        import httpx
        from standardwebhooks.webhooks import Webhook

        self._httpx, self._signer = httpx, Webhook
        timeout = get_settings().webhook_timeout_seconds
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(
        self,
        url: str,
        secret: str,
        message_id: str,
        event_type: str,
        data: dict,
        created_at: datetime,
        now: datetime,
    ) -> int:
        body = json.dumps(
            {"type": event_type, "timestamp": created_at.isoformat(), "data": data},
            separators=(",", ":"),
        )
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _public_address(parts.hostname or "", port)
        host = f"[{address}]" if ":" in address else address
        pinned = urlunsplit(parts._replace(netloc=f"{host}:{port}"))
        headers = {
            "content-type": "application/json",
            "user-agent": "Signpost-Webhooks/1",
            "host": parts.netloc.rsplit("@", 1)[-1],
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer(secret).sign(message_id, now, body),
        }
        try:
            response = self._client.post(
                pinned,
                content=body.encode(),
                headers=headers,
                extensions={"sni_hostname": parts.hostname},
            )
        except self._httpx.TimeoutException:
            raise DeliveryFailed("timed out") from None
        except self._httpx.HTTPError as error:
            raise DeliveryFailed(f"could not connect ({type(error).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}", response.status_code)
        return response.status_code

    def close(self) -> None:
        self._client.close()
