"""Sign-in and sessions that hold against the attacks of the security review (issue 13):
guessing passwords, a stolen or copied cookie, an installation trusting another's cookies,
and what the responses give away. The clock is the injected one: no test waits."""

from __future__ import annotations

import logging
from pathlib import Path

from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

import engine
from engine import Kefu, Settings
from engine.persistence.models import Person
from engine.persistence.signin_models import LoginAttempt, WebSession
from tests.web.conftest import PASSWORD, set_password, text_of
from web import create_app
from web.server.logmask import MaskNumbers


def _login(client, auth, username: str, password: str, address: str = "10.0.0.7"):
    auth.client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": auth.csrf()},
                       environ_base={"REMOTE_ADDR": address})


def test_the_right_password_after_30_wrong_ones_within_a_minute_is_refused(
        client, auth, clock) -> None:
    set_password(auth.kefu, "agent01")
    for _ in range(30):
        clock.advance(seconds=2)
        assert _login(client, auth, "agent01", "guess").status_code in (401, 429)
    refused = _login(client, auth, "agent01", PASSWORD)
    assert refused.status_code == 429 and "登录失败次数过多" in text_of(refused)
    assert client.get("/inbox").status_code == 302  # not logged in


def test_a_lockout_expires_and_then_the_right_password_works(client, auth, clock) -> None:
    set_password(auth.kefu, "agent01")
    settings = auth.kefu.settings
    for _ in range(settings.login_failures_per_account):
        _login(client, auth, "agent01", "guess")
    assert _login(client, auth, "agent01", PASSWORD).status_code == 429
    clock.advance(minutes=settings.login_lockout_minutes - 1)
    assert _login(client, auth, "agent01", PASSWORD).status_code == 429  # still locked
    clock.advance(minutes=settings.login_lockout_minutes + 1)
    assert _login(client, auth, "agent01", PASSWORD).status_code == 302


def test_one_address_guessing_at_many_accounts_is_locked_out(client, auth) -> None:
    set_password(auth.kefu, "agent02")
    limit = auth.kefu.settings.login_failures_per_address
    for index in range(limit):  # a few guesses each at many accounts: no account locks
        _login(client, auth, f"agent{index % 10 + 1:02d}x", "guess", address="10.9.9.9")
    assert _login(client, auth, "agent02", PASSWORD, address="10.9.9.9").status_code == 429
    assert _login(client, auth, "agent02", PASSWORD, address="10.0.0.8").status_code == 302


def test_failed_log_ins_are_recorded_and_shown_to_the_auditor_only(client, auth) -> None:
    _login(client, auth, "agent01", "guess", address="10.1.2.3")
    with auth.kefu.session() as s:
        [row] = s.scalars(select(LoginAttempt)).all()
        assert (row.username, row.address, row.outcome) == ("agent01", "10.1.2.3", "wrong")
    auth.as_user("agent02")
    assert client.get("/audit/logins").status_code == 403
    auth.as_user("audit01")
    page = text_of(client.get("/audit/logins"))
    assert "agent01 10.1.2.3 用户名或密码错误" in page


def test_logout_ends_the_session_everywhere_its_cookie_is_used(app, client, auth) -> None:
    auth.login("agent01")
    cookie = client.get_cookie("kefu_session").value
    thief = app.test_client()
    thief.set_cookie("kefu_session", cookie)
    assert thief.get("/inbox").status_code == 200
    auth.logout()
    assert thief.get("/inbox").status_code == 302  # the copied cookie no longer works


def test_the_cookie_carries_only_a_session_id(app, client, auth) -> None:
    auth.login("agent01")
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    content = serializer.loads(client.get_cookie("kefu_session").value)
    assert set(content) <= {"sid", "csrf", "lang", "_permanent"} and "uid" not in content
    with auth.kefu.session() as s:
        row = s.get(WebSession, content["sid"])
        assert row.revoked_at is None and row.person_id == s.scalar(
            select(Person.id).where(Person.username == "agent01"))


def test_a_session_ends_at_its_absolute_lifetime_however_busy(client, auth, clock) -> None:
    auth.login("agent01")
    settings = auth.kefu.settings
    used = 0.0
    while used < settings.session_absolute_hours * 60 - 30:
        clock.advance(minutes=30)
        used += 30
        assert client.get("/inbox").status_code == 200, used
    clock.advance(minutes=31)
    assert client.get("/inbox").status_code == 302


def test_a_new_password_or_revoked_access_ends_every_session(client, auth, deployed) -> None:
    auth.login("agent01")
    with deployed.session() as s:
        assert engine.people.signin.set_password(s, "agent01", "a-new-password",
                                          deployed.clock.now()) == 1
    assert client.get("/inbox").status_code == 302
    auth.as_user("agent02")
    with deployed.session() as s:
        engine.people.signin.deactivate(s, "agent02", deployed.clock.now())
    assert client.get("/inbox").status_code == 302


def test_two_installations_from_one_checkout_trust_neither_the_others_cookies(
        tmp_path: Path, deployed) -> None:
    apps = []
    for name in ("centre_a", "centre_b"):
        settings = Settings(database_url=f"sqlite:///{tmp_path / name / 'kefu.sqlite3'}",
                            processes_dir=deployed.settings.processes_dir,
                            forms_dir=deployed.settings.forms_dir)
        kefu = Kefu(settings, clock=deployed.clock)
        kefu.db.create_all_for_tests()
        apps.append(create_app({"TESTING": True}, kefu=kefu))
        secret = tmp_path / name / "secret_key"
        assert secret.stat().st_mode & 0o777 == 0o600
        assert apps[-1].config["SECRET_KEY"] == secret.read_text().strip()
    assert apps[0].config["SECRET_KEY"] != apps[1].config["SECRET_KEY"]
    serializer = SecureCookieSessionInterface().get_signing_serializer(apps[0])
    forged = apps[1].test_client()
    forged.set_cookie("kefu_session", serializer.dumps({"sid": "x", "uid": 1}))
    assert forged.get("/inbox").status_code == 302
    for app in apps:
        app.extensions["kefu"].db.dispose()


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(deployed) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SESSION_COOKIE_SECURE": True},
                     kefu=deployed)
    client = app.test_client()
    response = client.get("/login", base_url="https://kefu.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in response.headers["Set-Cookie"]


def test_responses_name_no_server_version(client) -> None:
    for url in ("/login", "/api/openapi.json", "/no-such-page"):
        server = client.get(url).headers.get("Server")
        assert server == "Kefu", url
    assert "Strict-Transport-Security" not in client.get("/login").headers  # plain HTTP


def test_C12_a_searched_phone_number_stays_out_of_urls_and_log_lines(
        client, auth, deployed, people, caplog) -> None:
    from tests.complaints import register

    number = register(deployed, people["agent01"], complainant_phone="13912345678")
    auth.as_user("audit01")
    refused = client.get("/audit/?phone=13912345678")
    assert refused.status_code == 400 and "请用查询表单按电话查询" in text_of(refused)
    found = auth.post("/audit/", {"phone": "13912345678"}).get_data(as_text=True)
    assert number in found and "13912345678" not in found.split("<form")[0]
    logger = logging.getLogger("werkzeug")
    record = logger.makeRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("GET /audit/?phone=13912345678 HTTP/1.1", "400", "-"), None)
    MaskNumbers().filter(record)
    assert record.getMessage() == '"GET /audit/?phone=139****5678 HTTP/1.1" 400 -'
    assert any(isinstance(f, MaskNumbers) for f in logger.filters)
