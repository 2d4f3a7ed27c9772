"""Logging in and out, sessions that expire, CSRF on every form, security headers, and the
Chinese-first interface with English on request (issue 5)."""

from __future__ import annotations

from sqlalchemy import select

from engine.persistence.models import Person
from engine.persistence.signin_models import WebSession
from tests.web.conftest import PASSWORD, set_password, text_of


def test_login_shows_the_inbox_in_chinese_by_default(client, auth) -> None:
    response = auth.login("agent01")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    page = text_of(client.get("/inbox"))
    assert "待办" in page and "我的任务" in page and "刘洋（工号 1001）" in page
    assert "My tasks" not in page


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, auth) -> None:
    response = auth.login("agent01", password="wrong")
    assert response.status_code == 401
    assert "用户名或密码错误" in text_of(response)
    assert auth.login("nobody", password=PASSWORD).status_code == 401
    assert client.get("/inbox").status_code == 302  # still logged out


def test_passwords_are_stored_as_scrypt_hashes(auth, deployed) -> None:
    auth.login("agent01")
    with deployed.session() as s:
        stored = s.scalar(select(Person.password_hash).where(Person.username == "agent01"))
    assert stored.startswith("scrypt$") and PASSWORD not in stored


def test_pages_need_a_login_and_bring_you_back_after_it(client, auth) -> None:
    response = client.get("/inbox?sort=created")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    set_password(auth.kefu, "agent01")
    auth.client.get("/login")
    response = client.post("/login?next=/inbox?sort%3Dcreated",
                           data={"username": "agent01", "password": PASSWORD,
                                 "csrf_token": auth.csrf()})
    assert response.headers["Location"] == "/inbox?sort=created"


def test_login_never_redirects_to_another_site(client, auth) -> None:
    set_password(auth.kefu, "agent01")
    auth.client.get("/login")
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "agent01", "password": PASSWORD,
                                 "csrf_token": auth.csrf()})
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(client, auth) -> None:
    auth.login("agent01")
    assert auth.logout().status_code == 302
    assert client.get("/inbox").status_code == 302


def test_session_expires_after_its_lifetime_without_use(client, auth, clock) -> None:
    auth.login("agent01")
    assert client.get("/inbox").status_code == 200
    clock.advance(minutes=auth.kefu.settings.session_idle_minutes + 1)
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_session_in_use_stays_signed_in_and_its_use_is_written_once_in_a_while(
        client, auth, clock) -> None:
    """Every page would otherwise be a write: the session's last use is written when a
    hundredth of the idle timeout has passed, and that is enough to keep it alive."""
    auth.login("agent01")
    idle = auth.kefu.settings.session_idle_minutes

    def last_seen():
        with auth.kefu.session() as s:
            return s.scalars(select(WebSession.last_seen_at)).one()
    signed_in = last_seen()
    clock.advance(minutes=idle / 100 * 0.9)
    assert client.get("/inbox").status_code == 200
    assert last_seen() == signed_in  # within a hundredth of the timeout: nothing written
    clock.advance(minutes=idle / 100 * 0.1)
    assert client.get("/inbox").status_code == 200
    assert last_seen() == clock.now()
    for _ in range(3):  # used for three idle timeouts, a little more each time
        clock.advance(minutes=idle * 0.9)
        assert client.get("/inbox").status_code == 200
    assert last_seen() == clock.now()


def test_session_cookie_is_httponly_and_samesite(client, auth) -> None:
    response = auth.login("agent01")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_every_post_form_needs_the_csrf_token(client, auth, deployed, people) -> None:
    from tests.complaints import register

    auth.login("duty01")
    number = register(deployed, people["agent01"])
    page = client.get("/inbox").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    task_id = next(line.split("/tasks/")[1].split("/")[0] for line in page.splitlines()
                   if "/claim" in line)
    refused = client.post(f"/tasks/{task_id}/claim")
    assert refused.status_code == 400 and "表单已过期" in text_of(refused)
    forged = client.post(f"/tasks/{task_id}/claim", data={"csrf_token": "guess"})
    assert forged.status_code == 400
    assert auth.post(f"/tasks/{task_id}/claim").status_code == 302
    assert number in text_of(client.get("/inbox"))


def test_login_form_itself_needs_the_csrf_token(client) -> None:
    response = client.post("/login", data={"username": "agent01", "password": PASSWORD})
    assert response.status_code == 400


def test_security_headers_on_every_page(client, auth) -> None:
    for url in ("/login", "/static/kefu.css"):
        response = client.get(url)
        response.close()
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_english_on_request_and_kept_in_the_session(client, auth) -> None:
    auth.login("agent01")
    response = auth.post("/language", {"lang": "en", "next": "/inbox"})
    assert response.headers["Location"] == "/inbox"
    page = text_of(client.get("/inbox"))
    assert "My tasks" in page and "刘洋 (no. 1001)" in page and "我的任务" not in page
    auth.post("/language", {"lang": "zh_Hans_CN"})
    assert "我的任务" in text_of(client.get("/inbox"))


def test_an_unknown_language_is_ignored(client, auth) -> None:
    auth.post("/language", {"lang": "fr"})
    assert "登录" in text_of(client.get("/login"))
