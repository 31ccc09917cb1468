"""Sending a text message to a phone: a small pluggable sender chosen by LINLI_SMS_SENDER.

- `log` (default): the message is written to the server log ("linli.sms"), and the last message
  per phone is kept in this process (`LogSender.outbox`) so tests and `serve --demo` can show it.
- `http`: one POST to LINLI_SMS_URL with JSON `{"phone": "138...", "message": "..."}` and
  `Authorization: Bearer LINLI_SMS_KEY`; any answer but 2xx is a failure (`unavailable`).

The only caller is domain/people/phones.py; the message text comes from LINLI_SMS_TEMPLATE.
"""

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections import OrderedDict
from typing import Protocol

from domain.core import settings
from domain.core.errors import DomainError

log = logging.getLogger("linli.sms")
TIMEOUT_SECONDS = 5


class Sender(Protocol):
    async def send(self, phone: str, message: str) -> None: ...


class LogSender:
    """Writes the message to the log. Keeps the last 1,000 messages by phone for tests and demos."""
    outbox: "OrderedDict[str, str]" = OrderedDict()

    async def send(self, phone: str, message: str) -> None:
        # The phone is masked like everywhere in the logs; the code is what a developer needs.
        log.warning("SMS to %s: %s", phone[:3] + "****" + phone[-4:], message)
        self.outbox.pop(phone, None)
        self.outbox[phone] = message
        while len(self.outbox) > 1000:
            self.outbox.popitem(last=False)


class HttpSender:
    def __init__(self, url: str, key: str | None):
        self.url, self.key = url, key

    def _post(self, body: bytes) -> int:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (configured URL)
            return response.status

    async def send(self, phone: str, message: str) -> None:
        body = json.dumps({"phone": phone, "message": message}, ensure_ascii=False).encode()
        try:
            status = await asyncio.to_thread(self._post, body)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            log.warning("SMS gateway failed: %s", exc)
            raise DomainError("unavailable", details={"problem": "the SMS gateway did not answer"}) from None
        if not 200 <= status < 300:
            log.warning("SMS gateway answered %s", status)
            raise DomainError("unavailable", details={"problem": "the SMS gateway refused the message"})


def sender() -> Sender:
    config = settings.get()
    if config.sms_sender == "http":
        if not config.sms_url:
            raise DomainError("unavailable", details={"problem": "LINLI_SMS_URL is not set"})
        return HttpSender(config.sms_url, config.sms_key)
    return LogSender()


def message_for(code: str) -> str:
    return settings.get().sms_template.replace("{code}", code)


def last_logged(phone: str) -> str | None:
    """The last message the log sender wrote for a phone (tests, demo)."""
    return LogSender.outbox.get(phone)
