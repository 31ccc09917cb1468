"""The one SMS channel, for one-time phone codes and for notifications alike.

One configuration (LINLI_SMS_API_URL, LINLI_SMS_API_KEY) and one request shape: a POST of JSON
`{"to": "138...", "text": "...", "kind": "..."}` with `Authorization: Bearer <key>` and an
`Idempotency-Key` header on every send, so a gateway that honours it never delivers one message
twice (a retried notification, a code re-sent after a timeout). Any answer but 2xx is a failure.
Without a URL every message is written to the server log ("linli.sms"), and the last one per phone
is kept in this process (`last_logged`) so tests and `serve --demo` can show it.

Who waits: notifications go through the outbox (domain/notify), which holds an SMS through quiet
hours; a code goes at once (a person is waiting for it), so it never waits.
"""

import logging
from collections import OrderedDict

import httpx

from domain.core import settings

log = logging.getLogger("linli.sms")
TIMEOUT = httpx.Timeout(10.0)
CODE_KIND = "phone_code"  # the `kind` of a one-time code; notifications send their own kind

_outbox: "OrderedDict[str, str]" = OrderedDict()


class SmsError(Exception):
    """The gateway refused the message or could not be reached."""


class Gateway:
    """The SMS gateway over HTTP: the one request shape."""

    def __init__(self, url: str, api_key: str | None):
        self.url, self.api_key = url, api_key

    async def send(self, http: httpx.AsyncClient | None, *, to: str, text: str, kind: str, key: str) -> None:
        headers = {"Idempotency-Key": key}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"to": to, "text": text, "kind": kind}
        try:
            if http is None:
                async with httpx.AsyncClient(timeout=TIMEOUT) as own:
                    reply = await own.post(self.url, headers=headers, json=body)
            else:
                reply = await http.post(self.url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            raise SmsError(f"sms gateway unreachable: {type(exc).__name__}") from None
        if not 200 <= reply.status_code < 300:
            raise SmsError(f"sms gateway answered {reply.status_code}")


def gateway() -> Gateway | None:
    """The configured gateway; None when messages are only logged."""
    config = settings.get()
    return Gateway(config.sms_api_url, config.sms_api_key) if config.sms_api_url else None


async def send_code(phone: str, code: str, *, key: str) -> None:
    """A one-time code, sent at once (never held for quiet hours), or logged when no gateway is set."""
    text = code_text(code)
    configured = gateway()
    if configured is None:
        # The phone is masked like everywhere in the logs; the code is what a developer needs.
        log.warning("SMS to %s: %s", phone[:3] + "****" + phone[-4:], text)
        _outbox.pop(phone, None)
        _outbox[phone] = text
        while len(_outbox) > 1000:
            _outbox.popitem(last=False)
        return
    await configured.send(None, to=phone, text=text, kind=CODE_KIND, key=key)


def code_text(code: str) -> str:
    return settings.get().sms_template.replace("{code}", code)


def last_logged(phone: str) -> str | None:
    """The last message logged (no gateway set) for a phone (tests, demo)."""
    return _outbox.get(phone)
