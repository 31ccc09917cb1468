"""Delivery channels behind one interface: an SMS gateway over HTTP, WeChat subscription messages,
and a log channel used when no gateway is configured (development, demos, tests).

A channel either returns (the provider accepted the message) or raises `DeliveryError`. Every
request carries the message's idempotency key, so a gateway that honours it never delivers twice
even when a sender crashed after the gateway accepted and before the outbox row was marked sent.
"""

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx

from domain.core import settings, sms

log = logging.getLogger("linli.notify")
TIMEOUT = httpx.Timeout(10.0)


class DeliveryError(Exception):
    """The provider refused or could not be reached; the outbox retries with backoff."""


@dataclass(frozen=True)
class Outgoing:
    key: str          # idempotency key: one per message and channel
    kind: str
    address: str      # phone number or WeChat openid
    title: str
    text: str
    link: str | None


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing, http: httpx.AsyncClient) -> None: ...


class LogChannel:
    """Writes that a message would have gone out; never the address or the text (personal data)."""

    def __init__(self, name: str):
        self.name = name

    async def send(self, message: Outgoing, http: httpx.AsyncClient) -> None:
        log.info("notification %s by %s (no gateway configured): %s", message.key, self.name, message.kind)


class SmsGateway:
    """The one SMS channel (domain/core/sms.py: POST JSON {to, text, kind}, bearer key, Idempotency-Key)."""

    name = "sms"

    def __init__(self, url: str, key: str | None):
        self.gateway = sms.Gateway(url, key)

    async def send(self, message: Outgoing, http: httpx.AsyncClient) -> None:
        try:
            await self.gateway.send(http, to=message.address, text=message.text, kind=message.kind, key=message.key)
        except sms.SmsError as exc:
            raise DeliveryError(str(exc)) from None


class WeChatSubscription:
    """WeChat subscription messages (订阅消息): an access token from appid/secret, then
    message/subscribe/send with one template whose fields are the title and the text."""

    name = "wechat"

    def __init__(self, base_url: str, appid: str, secret: str, template_id: str):
        self.base_url, self.appid, self.secret, self.template_id = base_url.rstrip("/"), appid, secret, template_id

    async def send(self, message: Outgoing, http: httpx.AsyncClient) -> None:
        try:
            token = await http.get(f"{self.base_url}/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
            access_token = token.json().get("access_token") if token.status_code == 200 else None
            if not access_token:
                raise DeliveryError("wechat token refused")
            reply = await http.post(
                f"{self.base_url}/cgi-bin/message/subscribe/send", params={"access_token": access_token},
                headers={"Idempotency-Key": message.key},
                json={"touser": message.address, "template_id": self.template_id, "page": message.link or "/",
                      # WeChat's thing.DATA fields hold at most 20 characters.
                      "data": {"thing1": {"value": message.title[:20]}, "thing2": {"value": message.text[:20]}}})
        except (httpx.HTTPError, ValueError) as exc:
            raise DeliveryError(f"wechat unreachable: {type(exc).__name__}") from None
        body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
        if reply.status_code != 200 or body.get("errcode", 0) != 0:
            raise DeliveryError(f"wechat answered {reply.status_code} errcode {body.get('errcode')}")


def configured() -> dict[str, Channel]:
    """The channels as the settings configure them; unconfigured ones only log."""
    config = settings.get()
    sms_channel: Channel = SmsGateway(config.sms_api_url, config.sms_api_key) if config.sms_api_url \
        else LogChannel("sms")
    wechat: Channel = LogChannel("wechat")
    if config.wechat_appid and config.wechat_secret and config.wechat_template_id:
        wechat = WeChatSubscription(config.wechat_api_url, config.wechat_appid, config.wechat_secret,
                                    config.wechat_template_id)
    return {"sms": sms_channel, "wechat": wechat}
