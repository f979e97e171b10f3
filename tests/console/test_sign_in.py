"""Who may use the console, and how a session ends."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete

from shop.adapters.sql.tables import refresh_tokens
from shop.container import Container
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.console.conftest import CSRF, Console, text_of
from tests.fakes import PASSWORD
from tests.support import UseCases, use_cases


def test_an_anonymous_visitor_is_sent_to_the_login_page(console: Console) -> None:
    response = console.get("/console/products/?q=lamp")

    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302
    assert (location.path, parse_qs(location.query)) == ("/console/login", {"next": ["/console/products/?q=lamp"]})


def test_a_manager_signs_in_and_lands_where_they_were_going(container: Container, console: Console) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)

    response = console.sign_in("boss", next="/console/orders/")

    assert (response.status_code, response.headers["Location"]) == (302, "/console/orders/")
    assert "Orders" in text_of(console.get("/console/orders/"))


def test_the_session_cookie_is_http_only_same_site_and_scoped_to_the_console(
    container: Container, console: Console
) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)

    cookie = console.sign_in("boss").headers["Set-Cookie"]

    assert cookie.startswith("shop_console=")
    assert {"HttpOnly", "SameSite=Lax", "Path=/console"} <= {part.strip() for part in cookie.split(";")}


def test_a_login_page_never_sends_a_manager_to_another_site(container: Container, console: Console) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)

    response = console.sign_in("boss", next="//evil.example/console/")

    assert response.headers["Location"] == "/console/"


@pytest.mark.parametrize(
    "target",
    [
        "/console/\r\nSet-Cookie: x=1",
        "/console/orders/\n",
        "/console/\x01",
        "/console/\x7f",
        "/console/caf\u00e9",
        "/console/\\evil.example",
        "/console/orders//evil.example",
        "/console/../api/token/",
        "/console/%2e%2e/users/",
        "/console/..",
        "https://evil.example/console/",
        "/consoleevil/",
        "/api/schema/",
        "",
    ],
)
def test_a_login_page_sends_anything_but_a_plain_console_path_home(
    container: Container, console: Console, target: str
) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)

    page = console.get("/console/login", query_string={"next": target})
    response = console.sign_in("boss", next=target)

    assert page.status_code == 200
    assert (response.status_code, response.headers["Location"]) == (302, "/console/")
    assert console.get("/console/").status_code == 200  # signed in all the same


def test_a_plain_console_path_with_its_query_is_kept(container: Container, console: Console) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)

    response = console.sign_in("boss", next="/console/products/?q=green%20tea&sort=-price")

    assert response.headers["Location"] == "/console/products/?q=green%20tea&sort=-price"


def test_a_wrong_password_is_told_in_the_api_words_and_keeps_no_session(
    container: Container, console: Console, api: Api
) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)

    response = console.sign_in("boss", "not-the-password")

    assert response.status_code == 401
    assert "No active account found with the given credentials." in text_of(response)
    assert console.get("/console/").status_code == 302


def test_a_customer_is_told_the_console_is_for_managers_only(console: Console, api: Api) -> None:
    api.signup("carol")

    response = console.sign_in("carol")

    assert response.status_code == 403
    assert "Managers only" in text_of(response)
    assert console.get("/console/").status_code == 302  # and is not signed in


def test_failed_console_logins_count_with_the_api_ones(container: Container, console: Console, api: Api) -> None:
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)
    for _ in range(3):
        assert api.client.post("/api/token/", json={"username": "boss", "password": "wrong-one"}).status_code == 401
    for _ in range(2):
        assert console.sign_in("boss", "wrong-one").status_code == 401

    refused = console.sign_in("boss")

    assert refused.status_code == 429
    assert "Too Many Requests" in text_of(refused)


def test_signing_out_ends_the_session_even_for_a_copied_cookie(manager: Console, client: FlaskClient, api: Api) -> None:
    cookie = client.get_cookie("shop_console", path="/console")
    assert cookie is not None

    response = manager.submit("/console/", "/console/logout")

    assert (response.status_code, response.headers["Location"]) == (302, "/console/login")
    thief = api.client.application.test_client()
    thief.set_cookie("shop_console", cookie.value, path="/console")
    assert thief.get("/console/").status_code == 302


def test_a_password_change_ends_the_console_session(manager: Console, api: Api) -> None:
    boss = api.login("boss")
    user_id = api.call("GET", "/users/?q=boss", boss["access"]).get_json()[0]["id"]

    changed = api.call("PUT", f"/users/{user_id}/", boss["access"], json={"password": "a-brand-new-secret"})

    assert changed.status_code == 200
    response = manager.get("/console/")
    assert response.status_code == 302
    assert "session has ended" in text_of(manager.get("/console/login"))


def test_a_deleted_account_ends_the_console_session(manager: Console, api: Api) -> None:
    boss = api.login("boss")
    user_id = api.call("GET", "/users/?q=boss", boss["access"]).get_json()[0]["id"]

    assert api.call("DELETE", f"/users/{user_id}/", boss["access"]).status_code == 204

    assert manager.get("/console/products/").status_code == 302


def test_a_demotion_ends_the_console_session(manager: Console, container: Container) -> None:
    UseCases(container.bus()).demote_manager(username="boss", force=True)

    assert manager.get("/console/").status_code == 302
    assert "session has ended" in text_of(manager.get("/console/login"))
    assert manager.sign_in("boss").status_code == 403  # and signing in again: managers only


def test_the_session_cookie_is_secure_in_production(settings: Settings) -> None:
    app = create_app(replace(settings, production=True))
    use_cases(app).make_manager(username="boss", password=PASSWORD)
    console = Console(app.test_client())

    cookie = console.sign_in("boss").headers["Set-Cookie"]

    assert "Secure" in {part.strip() for part in cookie.split(";")}


def test_over_https_the_forms_ask_browsers_for_a_same_origin_referer(settings: Settings) -> None:
    """Flask-WTF refuses a form posted over HTTPS without a same-origin Referer: the console's pages
    must let the browser send one (the API's no-referrer would lock everyone out)."""
    app = create_app(replace(settings, production=True, trusted_hosts=("shop.example",)))
    use_cases(app).make_manager(username="boss", password=PASSWORD)
    client = app.test_client()
    login = client.get("/console/login", base_url="https://shop.example")
    token = CSRF.search(login.get_data(as_text=True))
    assert token is not None
    form = {"csrf_token": token.group(1), "username": "boss", "password": PASSWORD}

    without = client.post("/console/login", data=form, base_url="https://shop.example")
    with_referer = client.post(
        "/console/login",
        data=form,
        base_url="https://shop.example",
        headers={"Referer": "https://shop.example/console/login"},
    )

    assert login.headers["Referrer-Policy"] == "same-origin"
    assert without.status_code == 400
    assert with_referer.status_code == 302


def test_a_session_ends_after_its_lifetime_even_with_a_freshly_signed_cookie(manager: Console) -> None:
    """The cookie is signed anew whenever the session changes (a flashed message does): its own
    expiry would restart; the sign-in time does not."""
    assert manager.get("/console/").status_code == 200
    with manager.client.session_transaction("/console/") as session:
        session["since"] -= 8 * 3600 + 1

    assert manager.get("/console/").status_code == 302


def test_a_session_whose_refresh_token_was_purged_is_over(manager: Console, settings: Settings) -> None:
    """Purged means expired: and with no row left, signing out could revoke nothing, so the session
    must not outlive its row."""
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(delete(refresh_tokens))  # as `shop purge` does once it has expired
    engine.dispose()

    assert manager.get("/console/").status_code == 302


def test_a_form_posted_after_the_session_ended_signs_in_back_to_a_page_not_the_post(
    manager: Console, container: Container
) -> None:
    token = manager.token("/console/")
    UseCases(container.bus()).demote_manager(username="boss", force=True)

    response = manager.client.post("/console/orders/1/cancel", data={"csrf_token": token})

    assert (response.status_code, response.headers["Location"]) == (302, "/console/login")
