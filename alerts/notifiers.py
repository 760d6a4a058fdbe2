"""Delivery of alerts: one `Notifier` interface, SMTP and webhook (Slack) behind it.

Credentials come from the environment (``BRANDPULSE_SMTP_*``,
``BRANDPULSE_WEBHOOK_URL``, read by `SmtpSettings` and `WebhookSettings` in
brandpulse/core/settings.py) or from an Airflow SMTP Connection; they are held
as `SecretStr` and never logged. Transient failures (connection drops,
timeouts, 4xx SMTP replies, HTTP 429/5xx) are retried with exponential
backoff; anything else raises `DeliveryError` at once, so the caller leaves the
episode event unsent and tries again on its next run.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from alerts.email_render import AlertContent, render_email
from brandpulse.core.settings import SmtpSettings, WebhookSettings, describe_error

log = logging.getLogger(__name__)

Security = Literal["ssl", "starttls", "none"]


class DeliveryError(RuntimeError):
    """The alert could not be delivered (after retries, or permanently)."""


class _Transient(Exception):
    """A failure worth retrying."""


class Notifier(ABC):
    """Sends one alert (an episode event) to its recipients."""

    @abstractmethod
    def notify(self, content: AlertContent, recipients: Sequence[str]) -> None:
        """Deliver or raise `DeliveryError`."""


# -- SMTP ---------------------------------------------------------------------------


class SmtpConfig(BaseModel):
    """Where and how to send e-mail."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int | None = None  # default: 465 for ssl, 587 for starttls, 25 otherwise
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "brandpulse@localhost"
    timeout_s: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_s: float = Field(default=1.0, ge=0)
    verify: bool = True
    ca_file: str | None = None

    @property
    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpConfig:
        """From ``BRANDPULSE_SMTP_HOST``, ``_PORT``, ``_SECURITY`` (ssl, starttls,
        none), ``_USER``, ``_PASSWORD``, ``_FROM``, ``_TIMEOUT``, ``_RETRIES``,
        ``_VERIFY`` (true/false) and ``_CA_FILE`` (`SmtpSettings`): the process
        environment, or `environ` alone when given."""
        return cls.from_settings(_smtp_settings(environ))

    @classmethod
    def from_settings(cls, settings: SmtpSettings) -> SmtpConfig:
        if settings.host is None:
            raise DeliveryError("BRANDPULSE_SMTP_HOST is not set")
        return cls(
            host=settings.host,
            port=settings.port,
            security=settings.security,
            username=settings.user,
            password=settings.password,
            sender=settings.sender,
            timeout_s=settings.timeout_s,
            retries=settings.retries,
            verify=settings.verify,
            ca_file=settings.ca_file,
        )

    @classmethod
    def from_airflow_connection(cls, conn_id: str) -> SmtpConfig:
        """From an Airflow SMTP Connection (fields as the smtp provider reads
        them: host, port, login, password; extra: disable_ssl, disable_tls,
        from_email, timeout, retry_limit, ssl_context)."""
        try:
            from airflow.sdk import BaseHook
        except ImportError as exc:  # Airflow is optional outside the DAGs
            raise DeliveryError("Airflow is not installed: set BRANDPULSE_SMTP_*") from exc
        conn = BaseHook.get_connection(conn_id)
        extra = conn.extra_dejson
        if not extra.get("disable_ssl", False):
            security: Security = "ssl"
        elif not extra.get("disable_tls", False):
            security = "starttls"
        else:
            security = "none"
        return cls(
            host=conn.host or "localhost",
            port=conn.port,
            security=security,
            username=conn.login or None,
            password=SecretStr(conn.password) if conn.password else None,
            sender=extra.get("from_email") or "brandpulse@localhost",
            timeout_s=float(extra.get("timeout", 30)),
            retries=int(extra.get("retry_limit", 3)),
            verify=extra.get("ssl_context", "default") != "none",
        )

    @classmethod
    def resolve(cls, conn_id: str | None = None) -> SmtpConfig:
        """The environment when ``BRANDPULSE_SMTP_HOST`` is set, else the
        Airflow Connection `conn_id`."""
        settings = _smtp_settings()
        if settings.host is not None:
            return cls.from_settings(settings)
        if conn_id:
            return cls.from_airflow_connection(conn_id)
        raise DeliveryError("no SMTP settings: set BRANDPULSE_SMTP_HOST or an Airflow connection")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class SmtpNotifier(Notifier):
    """Renders the alert e-mail and sends it over SMTP (SSL, STARTTLS or plain)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def notify(self, content: AlertContent, recipients: Sequence[str]) -> None:
        if not recipients:
            raise DeliveryError(f"brand {content.brand!r} has no recipients configured")
        self.send(render_email(content, self.config.sender, recipients), recipients)

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Send a ready message, retrying transient failures."""
        cfg = self.config
        try:
            for attempt in _retrying(cfg.retries, cfg.backoff_s):
                with attempt:
                    self._send_once(message, recipients)
        except RetryError as exc:
            raise DeliveryError(
                f"SMTP {cfg.host}:{cfg.effective_port} failed after {cfg.retries + 1} "
                f"attempts: {exc.last_attempt.exception()}"
            ) from None
        log.info(
            "sent %s to %d recipient(s) via %s:%s",
            message.get("Message-ID"),
            len(recipients),
            cfg.host,
            cfg.effective_port,
        )

    def _send_once(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        cfg = self.config
        try:
            client = self._connect()
            try:
                client.send_message(message, from_addr=cfg.sender, to_addrs=list(recipients))
            finally:
                _quit(client)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(400 <= c < 500 for c in codes):
                raise _Transient(f"recipients deferred: {codes}") from exc
            raise DeliveryError(f"recipients refused: {sorted(exc.recipients)}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP authentication failed for user {cfg.username!r}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise _Transient(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise DeliveryError(f"SMTP refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            if isinstance(exc, ssl.SSLCertVerificationError):
                raise DeliveryError(f"TLS certificate not trusted: {exc}") from exc
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        port = cfg.effective_port
        if cfg.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, port, timeout=cfg.timeout_s, context=cfg.ssl_context()
            )
        else:
            client = smtplib.SMTP(cfg.host, port, timeout=cfg.timeout_s)
            if cfg.security == "starttls":
                client.ehlo()
                client.starttls(context=cfg.ssl_context())
                client.ehlo()
        if cfg.username and cfg.password:
            try:
                client.login(cfg.username, cfg.password.get_secret_value())
            except smtplib.SMTPException:
                client.close()
                raise
        return client


def _smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    try:
        return SmtpSettings.load(environ)
    except ValidationError as exc:  # names the variable, never its value
        raise DeliveryError(f"invalid SMTP settings: {describe_error(exc)}") from None


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.debug("SMTP QUIT failed: %s", exc)
        client.close()


# -- webhook ------------------------------------------------------------------------


class WebhookNotifier(Notifier):
    """Posts a Slack-compatible JSON message (incoming webhook) about the alert.

    The webhook URL is a credential (it embeds a token): pass it in or set
    ``BRANDPULSE_WEBHOOK_URL``; it is never logged.
    """

    def __init__(
        self,
        url: str | SecretStr | None = None,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        if url is None:
            try:
                url = WebhookSettings.load().url
            except ValidationError as exc:
                raise DeliveryError(f"invalid webhook settings: {describe_error(exc)}") from None
        secret = url if isinstance(url, SecretStr) else SecretStr(url or "")
        if not secret.get_secret_value():
            raise DeliveryError("no webhook URL: pass one or set BRANDPULSE_WEBHOOK_URL")
        self._url = secret
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._session = session

    def notify(self, content: AlertContent, recipients: Sequence[str] = ()) -> None:
        self.post(slack_payload(content))

    def post(self, payload: dict) -> None:
        """POST the payload, retrying 429/5xx and connection errors."""
        try:
            for attempt in _retrying(self.retries, self.backoff_s):
                with attempt:
                    self._post_once(payload)
        except RetryError as exc:
            raise DeliveryError(
                f"webhook failed after {self.retries + 1} attempts: {exc.last_attempt.exception()}"
            ) from None

    def _post_once(self, payload: dict) -> None:
        session = self._session or requests.Session()
        try:
            response = session.post(
                self._url.get_secret_value(),
                data=json.dumps(payload).encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout_s,
            )
        except (TimeoutError, requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(type(exc).__name__) from None
        except requests.RequestException as exc:  # its message may quote the URL: name it only
            raise DeliveryError(f"webhook request failed: {type(exc).__name__}") from None
        finally:
            if self._session is None:
                session.close()
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"webhook refused the message: HTTP {response.status_code}")


def slack_payload(content: AlertContent) -> dict:
    """Slack message (text fallback + Block Kit sections); user text escaped."""
    c = content
    verb = {
        "open": "Negative spike",
        "escalate": "Negative spike escalating",
        "resolve": "Negative spike resolved",
    }[c.event]
    title = f"{verb}: {_slack(c.brand_title)}"
    summary = (
        f"*{c.negatives}* negative mentions vs *{c.expected_negatives:.0f}* expected "
        f"({c.severity:.1f}x) between {c.window_start:%Y-%m-%d %H:%M} and "
        f"{c.window_end:%H:%M} UTC"
    )
    if c.share is not None and c.expected_share is not None:
        summary += f"; negative share {c.share:.0%} vs {c.expected_share:.0%}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
    ]
    grown = [g.label for g in [*c.topics[:3], *c.terms[:3]]]
    if grown:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Growing: " + ", ".join(_slack(g) for g in grown)},
            }
        )
    for post in c.posts[:3]:
        line = f"*{_slack(post.author or 'unknown')}* ({_slack(post.platform)}): {_slack(post.text[:200])}"
        if post.url and post.url.startswith(("http://", "https://")):
            line += f" <{_slack(post.url)}|open>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line}})
    if c.kibana_url and c.kibana_url.startswith(("http://", "https://")):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{_slack(c.kibana_url)}|Open in Kibana>"},
            }
        )
    return {"text": f"{title} – {c.negatives} negative mentions", "blocks": blocks}


def _slack(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _retrying(retries: int, backoff_s: float) -> Retrying:
    return Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=backoff_s, max=max(backoff_s, 30.0)),
        reraise=False,
    )
