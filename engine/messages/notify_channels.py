"""The channels a notification leaves by: e-mail over SMTP (the standard library's
smtplib: nothing more is needed for one plain message) and a group robot's webhook in the
text-message shape of 企业微信 or 钉钉 (both answer `{"errcode": 0}` when they took it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from engine.config import Settings


class Undeliverable(Exception):
    """Retrying will not help (no address, say): the message fails at once."""


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    recipient: str
    email: str | None
    #: The people as a message names them: 姓名（工号）.
    names: str
    subject: str
    body: str
    #: The mobile numbers of the people a robot message names, to @-mention them.
    mobiles: tuple[str, ...] = ()


class Channel(Protocol):
    def send(self, message: Outgoing) -> None:
        """Hand the message over or raise; an exception is recorded and retried."""


class SmtpChannel:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: Outgoing) -> None:
        if not message.email:
            raise Undeliverable("没有电子邮件地址 / the person has no e-mail address")
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.email
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.notify_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(mail)


def robot_payload(kind: str, text: str, mobiles: tuple[str, ...] = ()) -> dict[str, object]:
    """The text message each robot expects (企业微信 群机器人, 钉钉 自定义机器人), with the
    people it names @-mentioned by mobile number: 企业微信 `mentioned_mobile_list`; 钉钉
    `at.atMobiles`, and 钉钉 shows the mention only where the text says `@number`."""
    if kind == "dingtalk":
        at: dict[str, object] = {"atUserIds": [], "isAtAll": False}
        if mobiles:
            at["atMobiles"] = list(mobiles)
            text = f"{text}\n{' '.join('@' + m for m in mobiles)}"
        return {"msgtype": "text", "text": {"content": text}, "at": at}
    content: dict[str, object] = {"content": text}
    if mobiles:
        content["mentioned_mobile_list"] = list(mobiles)
    return {"msgtype": "text", "text": content}


def dingtalk_signed(url: str, secret: str, millis: int) -> str:
    """钉钉 加签: HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, in the URL."""
    digest = hmac.new(secret.encode(), f"{millis}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={millis}&sign={sign}"


class WebhookChannel:
    def __init__(self, settings: Settings,
                 millis: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.settings = settings
        #: Real time, not the engine's clock: the robot refuses a signature an hour old.
        self.millis = millis

    def send(self, message: Outgoing) -> None:
        text = f"{message.names}：{message.body}"
        payload = json.dumps(robot_payload(self.settings.webhook_kind, text, message.mobiles),
                             ensure_ascii=False).encode()
        url = self.settings.webhook_url
        if self.settings.webhook_kind == "dingtalk" and self.settings.webhook_secret:
            url = dingtalk_signed(url, self.settings.webhook_secret, self.millis())
        request = urllib.request.Request(url, data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request,  # noqa: S310 - the centre's configured URL
                                        timeout=self.settings.notify_timeout_seconds) as answer:
                reply = json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from exc
        except json.JSONDecodeError as exc:
            raise RuntimeError("the robot did not answer JSON") from exc
        if reply.get("errcode", 0) != 0:
            raise RuntimeError(f"robot errcode {reply.get('errcode')}: {reply.get('errmsg')}")


def channels_for(settings: Settings) -> dict[str, Channel]:
    """The channels this installation has configured (in-app needs no sending)."""
    out: dict[str, Channel] = {}
    if "email" in settings.channels:
        out["email"] = SmtpChannel(settings)
    if "webhook" in settings.channels and settings.webhook_url:
        out["webhook"] = WebhookChannel(settings)
    return out
