"""Sending text messages through a provider: Alibaba Cloud SMS (dysmsapi SendSms, its signed RPC request), or,
in development, the log (phone masked).

A Chinese SMS provider sends only templates approved in advance, filled with parameters; the site has a few
(SMS_TEMPLATES maps the site's names to the provider's template codes): ``code`` (a one-time code) and
``notice`` (a notice's text). Set SMS_BACKEND=aliyun with the account's key, sign name and template codes."""

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from services.text import masked_contact

log = logging.getLogger(__name__)

# A template parameter's length the provider accepts (Alibaba Cloud: 35 characters per variable for a
# notification template); a longer notice is cut and points to the site.
PARAM_MAX = 35


class SmsUnavailable(RuntimeError):
    """The provider could not be reached or answered with a server error: retry later."""


def _percent(value: str) -> str:
    """RFC 3986 percent-encoding as the provider's signature wants it: space as %20, * as %2A, ~ kept."""
    return urllib.parse.quote(value, safe="~")


def signed_query(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """The query string with its Signature: HMAC-SHA1, keyed with the secret and "&", over
    ``METHOD&%2F&`` and the percent-encoded, sorted, percent-encoded parameters (signature version 1.0)."""
    canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{_percent('/')}&{_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    signature = base64.b64encode(digest).decode()
    return f"Signature={_percent(signature)}&{canonical}"


def _aliyun_params(config: Mapping[str, Any], phone: str, template: str, params: dict[str, str]) -> dict[str, str]:
    return {
        "AccessKeyId": config["SMS_ACCESS_KEY_ID"],
        "Action": "SendSms",
        "Format": "JSON",
        "PhoneNumbers": phone,
        "RegionId": config["SMS_REGION"],
        "SignName": config["SMS_SIGN_NAME"],
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "TemplateCode": config["SMS_TEMPLATES"][template],
        "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
    }


def send(phone: str, template: str, params: dict[str, str]) -> str | None:
    """Send one templated message to ``phone``: None when the provider took it, else why it refused it (a
    refusal is final: a wrong number, a template not approved).

    :raise SmsUnavailable: the provider could not be reached or failed (the caller retries).
    """
    config = current_app.config
    params = {name: value[:PARAM_MAX] for name, value in params.items()}
    if config["SMS_BACKEND"] == "log":
        # The parameters (a code among them) are shown in development, so that a claim or a reset can be tried
        # without a provider; production's log keeps only that a message went (SMS_LOG_PARAMS off).
        shown = params if config["SMS_LOG_PARAMS"] else "…"
        log.info("sms (log backend) to %s: %s %s", masked_contact(phone), template, shown)
        return None
    url = config["SMS_ENDPOINT"].rstrip("/") + "/?" + signed_query(
        _aliyun_params(config, phone, template, params), config["SMS_ACCESS_KEY_SECRET"])
    request = urllib.request.Request(url, method="GET")  # noqa: S310  (the endpoint is configuration, https)
    try:
        with urllib.request.urlopen(request, timeout=config["SMS_TIMEOUT"]) as response:  # nosec B310
            answer = json.loads(response.read().decode("utf-8") or "{}")
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise SmsUnavailable(f"HTTP {error.code}") from error
        try:
            answer = json.loads(error.read().decode("utf-8") or "{}")
        except ValueError:
            answer = {"Code": f"HTTP {error.code}"}
    except (OSError, ValueError) as error:
        raise SmsUnavailable(f"{type(error).__name__}: {error}"[:300]) from error
    code = str(answer.get("Code", ""))
    if code == "OK":
        return None
    if code in ("isp.SYSTEM_ERROR", "Throttling", "isv.BUSINESS_LIMIT_CONTROL"):
        raise SmsUnavailable(code)
    return f"{code}: {answer.get('Message', '')}"[:300]
