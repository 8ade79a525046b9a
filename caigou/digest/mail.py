"""Sending mail over SMTP: plain, STARTTLS or TLS; the user and password come from the configuration (``[smtp]``)
or its environment overrides (``CAIGOU_SMTP_PASSWORD``) and are never stored nor logged."""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from caigou.models.config import Config
from caigou.models.errors import CaigouError

SECURITY = ("starttls", "tls", "none")


class DeliveryError(Exception):
    """One message could not be delivered; the text is safe to show (it never holds the password)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = "caigou <caigou@localhost>"
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> SmtpSettings:
        security = str(config.get("smtp", "security", "none")).lower()
        if security not in SECURITY:
            raise CaigouError(f"[smtp] security must be one of {', '.join(SECURITY)}, not {security!r}")
        default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
        return cls(host=config.get("smtp", "host", "localhost"), port=int(config.get("smtp", "port", default_port)),
                   security=security, user=config.get("smtp", "user", ""),
                   password=config.get("smtp", "password", ""),
                   sender=config.get("smtp", "sender", cls.sender), timeout=float(config.get("smtp", "timeout", 30.0)))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{addr} refused: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                         for addr, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"server said {exc.smtp_code} {text}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


class Mailer:
    """One SMTP connection for a batch of messages (a subscription's recipients)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> None:
        s = self.settings
        try:
            if s.security == "tls":
                self.smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                             context=ssl.create_default_context())
            else:
                self.smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    self.smtp.starttls(context=ssl.create_default_context())
            if s.user:
                self.smtp.login(s.user, s.password)
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"cannot use the SMTP server {self.where}: {_describe(exc)}") from None

    def send(self, message: EmailMessage) -> None:
        """Deliver one message to all its To: addresses, or raise DeliveryError (nothing partially accepted)."""
        if self.smtp is None:
            self.connect()
        assert self.smtp is not None
        try:
            refused = self.smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(exc, smtplib.SMTPException):
                self.close()  # the connection is gone; a refused recipient leaves it usable
            raise DeliveryError(_describe(exc)) from None
        if refused:
            raise DeliveryError(_describe(smtplib.SMTPRecipientsRefused(refused)))

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


@contextmanager
def mailer(settings: SmtpSettings) -> Iterator[Mailer]:
    connection = Mailer(settings)
    try:
        yield connection
    finally:
        connection.close()
