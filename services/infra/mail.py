"""Sending e-mail: by SMTP (MAIL_SERVER set) or, in development, to the log (the recipient masked).

A batch goes over one connection. A recipient the server refuses is that message's failure alone; a server
that cannot be reached fails the batch, and the job that sent it retries (services.messaging)."""

import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from flask import current_app

from services.text import masked_contact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class MailUnavailable(RuntimeError):
    """The SMTP server could not be reached or refused the session: nothing of the batch was sent after it."""


def _message(mail: Mail, sender: str, sender_name: str) -> bytes:
    """The message as sent: UTF-8 body (base64), non-ASCII headers encoded (RFC 2047). Built with the email
    package's compat32 classes: the default policy's header objects cost ~3 ms a message (most of a worker's
    time in the December reminders' benchmark), these ~0.4 ms, for the same bytes on the wire."""
    message = MIMEText(mail.body, "plain", "utf-8")
    message["Subject"] = Header(mail.subject, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header
    message["From"] = formataddr((sender_name, sender), charset="utf-8")
    message["To"] = mail.to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or None)
    # CRLF line ends, as SMTP wants them: smtplib passes bytes through as they are, and a message whose lines
    # end in a bare LF reads, to the server, as one line (refused past 1,000 octets: RFC 5321 4.5.3.1.6).
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def _connect(config: Mapping[str, Any]) -> smtplib.SMTP:
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def send_batch(mails: list[Mail]) -> list[str | None]:
    """Send each mail; for each, None when it was handed to the server, else why it was refused.

    :raise MailUnavailable: the server could not be reached, or dropped the connection, before every mail was
        handed over (those before it were sent: the caller keeps the results it was given … none, so it marks
        nothing sent and retries; a message handed over twice is the SMTP trade-off, see docs/DEPLOY.md).
    """
    config = current_app.config
    if not mails:
        return []
    if not config.get("MAIL_SERVER"):
        for mail in mails:
            log.info("mail (log backend) to %s: %s", masked_contact(mail.to), mail.subject)
        return [None] * len(mails)
    results: list[str | None] = []
    try:
        smtp = _connect(config)
    except (OSError, smtplib.SMTPException) as error:
        raise MailUnavailable(f"{type(error).__name__}: {error}"[:300]) from error
    try:
        for mail in mails:
            try:
                smtp.sendmail(config["MAIL_FROM"], [mail.to],
                              _message(mail, config["MAIL_FROM"], config["MAIL_FROM_NAME"]))
                results.append(None)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as refusal:
                results.append(f"{type(refusal).__name__}: {refusal}"[:300])
    except (OSError, smtplib.SMTPException) as error:
        raise MailUnavailable(f"{type(error).__name__}: {error}"[:300]) from error
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return results
