"""A stand-in for Alibaba Cloud's SMS endpoint on localhost: it checks each request's signature as the provider
documents it (written here on its own, not with the app's code) and keeps the messages it accepted."""

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS_KEY_ID = "LTAI-test-key-id"
ACCESS_KEY_SECRET = "test-secret-of-the-sms-account"


def expected_signature(query: dict[str, str], secret: str) -> str:
    """Signature version 1.0: every parameter but Signature, sorted by name, each name and value
    percent-encoded per RFC 3986 (space %20, * %2A, ~ kept), joined with & and =; the string to sign is
    GET&%2F& and that joined text percent-encoded again; HMAC-SHA1 keyed with secret + "&", base64."""
    def enc(text: str) -> str:
        return urllib.parse.quote(text, safe="-_.~")

    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()) if k != "Signature")
    to_sign = "GET&%2F&" + enc(canonical)
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


class FakeSmsProvider:
    def __init__(self):
        self.received: list[dict] = []  # accepted requests' parameters, TemplateParam decoded
        self.rejected: list[str] = []
        self.answer: dict | None = None  # forced answer (e.g. an error code) instead of OK
        self.status = 200
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (http.server's name)
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
                problem = provider._problem(query)
                if problem:
                    provider.rejected.append(problem)
                    body, status = {"Code": "SignatureDoesNotMatch", "Message": problem}, 400
                elif provider.status >= 500:
                    body, status = {"Code": "InternalError"}, provider.status
                elif provider.answer is not None:
                    body, status = provider.answer, 200
                else:
                    provider.received.append({**query, "TemplateParam": json.loads(query["TemplateParam"])})
                    body, status = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
                                    "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _problem(self, query: dict[str, str]) -> str | None:
        required = {"AccessKeyId", "Action", "Format", "PhoneNumbers", "RegionId", "SignName", "SignatureMethod",
                    "SignatureNonce", "SignatureVersion", "TemplateCode", "TemplateParam", "Timestamp", "Version",
                    "Signature"}
        if missing := required - set(query):
            return f"missing {sorted(missing)}"
        if query["AccessKeyId"] != ACCESS_KEY_ID or query["Action"] != "SendSms" or query["Version"] != "2017-05-25":
            return "wrong key, action or version"
        if query["SignatureMethod"] != "HMAC-SHA1" or query["SignatureVersion"] != "1.0":
            return "wrong signature method"
        if not hmac.compare_digest(query["Signature"], expected_signature(query, ACCESS_KEY_SECRET)):
            return "signature does not match"
        return None

    def codes_to(self, phone: str) -> list[str]:
        return [r["TemplateParam"]["code"] for r in self.received
                if r["PhoneNumbers"] == phone and "code" in r["TemplateParam"]]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._thread.join(timeout=5)
