"""Who is using the web page: personal login links, the Telegram Mini App, browser sessions.

A login link (`/weblogin` in the bot, `worklog weblink 工号`) is single use and short-lived;
opening it starts a session whose token lives in an HttpOnly cookie. Inside Telegram the
Mini App's `initData` is signed with the bot token; a valid, fresh one starts a session for
the person bound to that Telegram account. Only hashes of tokens are stored. Each session
has its own CSRF secret, which every form posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from services import zh
from services.clock import Clock
from services.errors import DomainError, NotFound
from services.policy import WebSettings
from storage.models import Person, Role, WebLogin, WebSession
from storage.uow import UnitOfWork, UowFactory

LOGIN_PATH = "/login/"
APP_PATH = "/app"  # the Mini App's address, opened from the chat's menu button or /app


class LoginRefused(DomainError):
    """A forged, used or expired link, or Mini App data that is not Telegram's or too old."""


@dataclass(frozen=True)
class LoginLink:
    url: str
    roster_id: str
    name: str
    expires_at: datetime


@dataclass(frozen=True)
class Visitor:
    """The person behind a browser session, as every page needs them."""

    person_id: int
    name: str
    unit_name: str
    csrf: str
    supervises: bool = False  # has direct reports: the team pages
    rater: bool = False  # the 好/较好/一般/差 ratings page


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the cookie, never stored
    visitor: Visitor
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_init_data(init_data: str, bot_token: str, now: datetime, max_age: timedelta) -> int:
    """The Telegram user id in a Mini App's `initData`, after checking Telegram's signature
    (HMAC-SHA256 keyed by HMAC("WebAppData", bot token)) and its age; LoginRefused else."""
    fields = dict(parse_qsl(init_data, keep_blank_values=True))
    received = fields.pop("hash", "")
    if not received or not bot_token:
        raise LoginRefused(zh.WEB_APP_DATA_BAD)
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received):
        raise LoginRefused(zh.WEB_APP_DATA_BAD)
    try:
        signed_at = datetime.fromtimestamp(int(fields.get("auth_date", "")), tz=now.tzinfo)
        user_id = int(json.loads(fields.get("user", "{}"))["id"])
    except (ValueError, KeyError, TypeError):
        raise LoginRefused(zh.WEB_APP_DATA_BAD) from None
    if now - signed_at > max_age or signed_at - now > timedelta(minutes=5):
        raise LoginRefused(zh.WEB_APP_DATA_OLD)
    return user_id


class WebAccessService:
    def __init__(self, uow: UowFactory, clock: Clock, settings: WebSettings) -> None:
        self.uow = uow
        self.clock = clock
        self.settings = settings

    def base_url(self) -> str:
        return self.settings.base_url()

    def mini_app_url(self) -> str | None:
        """Where the Mini App opens; None unless the page is served over HTTPS, which
        Telegram requires of a Web App."""
        if not self.settings.enabled or not self.settings.secure:
            return None
        return f"{self.base_url()}{APP_PATH}"

    async def issue_link(
        self, *, roster_id: str | None = None, person_id: int | None = None, by: str = "cli"
    ) -> LoginLink:
        """A single-use login link for an active person, by 工号 (CLI) or id (the bot)."""
        now = self.clock.now()
        async with self.uow() as uow:
            if person_id is None:
                found = await uow.people.find_roster_id(roster_id or "")
                if found is None:
                    raise NotFound(zh.WEB_LINK_UNKNOWN.format(roster_id=roster_id))
                person_id = found
            person = await uow.people.get(person_id)
            if person is None or not person.active:
                raise NotFound(zh.WEB_LINK_UNKNOWN.format(roster_id=roster_id or person_id))
            token = secrets.token_urlsafe(24)
            expires = now + timedelta(minutes=self.settings.login_ttl_minutes)
            await uow.web.add(
                WebLogin(
                    token_hash=token_hash(token),
                    person_id=person.id,
                    issued_by=by,
                    created_at=now,
                    expires_at=expires,
                )
            )
            await uow.audit.record(now, "web_link_issued", subject_person_id=person.id, command=by)
            await uow.commit()
        return LoginLink(
            f"{self.base_url()}{LOGIN_PATH}{token}", person.roster_id, person.name, expires
        )

    async def redeem(self, token: str) -> NewSession:
        """Open a login link once: a session for its person; LoginRefused for anything else."""
        now = self.clock.now()
        async with self.uow() as uow:
            link = await uow.web.login(token_hash(token)) if token else None
            if link is None:
                raise LoginRefused(zh.WEB_LINK_FORGED)
            if link.used_at is not None:
                raise LoginRefused(zh.WEB_LINK_USED)
            if link.expires_at <= now:
                raise LoginRefused(zh.WEB_LINK_EXPIRED)
            person = await uow.people.get(link.person_id)
            if person is None or not person.active:
                raise LoginRefused(zh.WEB_LINK_FORGED)
            link.used_at = now
            started = await self._start(uow, person, "link", now)
            await uow.commit()
        return started

    async def telegram(self, init_data: str, bot_token: str) -> NewSession:
        """Sign in from the Mini App: Telegram's signed data names the bound account."""
        now = self.clock.now()
        max_age = timedelta(seconds=self.settings.init_data_max_age_seconds)
        user_id = verify_init_data(init_data, bot_token, now, max_age)
        async with self.uow() as uow:
            person = await uow.people.by_telegram_id(user_id)
            if person is None or not person.active:
                raise LoginRefused(zh.WEB_APP_NOT_BOUND)
            started = await self._start(uow, person, "telegram", now)
            await uow.commit()
        return started

    async def _start(self, uow: UnitOfWork, person: Person, via: str, now: datetime) -> NewSession:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        expires = now + timedelta(days=self.settings.signed_in_days)
        await uow.web.add(
            WebSession(
                token_hash=token_hash(token),
                person_id=person.id,
                csrf=csrf,
                via=via,
                created_at=now,
                expires_at=expires,
            )
        )
        await uow.audit.record(now, "web_login", actor_person_id=person.id, command=via)
        visitor = Visitor(person.id, person.name, person.unit.name, csrf)
        return NewSession(token, visitor, expires)

    async def visitor(self, token: str | None) -> Visitor | None:
        """The person of a live session cookie, or None (expired, ended, deactivated)."""
        if not token:
            return None
        now = self.clock.now()
        async with self.uow() as uow:
            browser = await uow.web.browser(token_hash(token))
            if browser is None or browser.ended_at is not None or browser.expires_at <= now:
                return None
            person = await uow.people.get(browser.person_id)
            if person is None or not person.active:
                return None
            supervises = await uow.people.has_reports(person.id) > 0
            rater = Role.RATER in person.role_set
            return Visitor(
                person.id, person.name, person.unit.name, browser.csrf, supervises, rater
            )

    async def logout(self, token: str | None) -> None:
        if not token:
            return
        async with self.uow() as uow:
            browser = await uow.web.browser(token_hash(token))
            if browser is not None and browser.ended_at is None:
                browser.ended_at = self.clock.now()
                await uow.web.flush()
                await uow.commit()
