"""Access control: roles, login and logout, CSRF, cookies, read-only mode, READ sessions, users CLI.

The rules are checked on a minimal Flask app built here (one read view, one write view) so they
hold whatever views the app grows, and again through ``web.create_app``'s real invalidate routes.
"""
from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest
from flask import Flask, jsonify, request

from latteprov import graph, users
from latteprov.store import StoreError
from latteprov.web import auth

PASSWORD = "correct horse battery"


def minimal_app(settings, **config) -> Flask:
    """An app with one read view and one write view, guarded the way the real app guards them."""
    app = Flask("auth_probe")
    app.config.update(TESTING=True, SECRET_KEY="test-secret", SETTINGS=settings, **config)
    auth.init_app(app)

    @app.get("/things")
    def things():
        return jsonify(things=["a"], role=auth.current_role())

    @app.post("/api/things/<name>/invalidate")
    @auth.require_role("writer")
    def invalidate(name: str):
        return jsonify(invalidated=name, by=request.headers.get("X-CSRFToken") is not None)

    @app.post("/things/<name>/delete")
    @auth.require_role("admin")
    def delete(name: str):
        return jsonify(deleted=name)

    return app


@pytest.fixture
def accounts(store) -> dict[str, str]:
    for role in users.ROLES:
        users.add(store, f"{role}1", PASSWORD, role)
    return {role: f"{role}1" for role in users.ROLES}


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    return client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})


def token(client) -> str:
    return client.get("/auth/me").json["csrf_token"]


@pytest.fixture
def app(settings, accounts) -> Flask:
    return minimal_app(settings)


def test_reader_cannot_invalidate(app, accounts) -> None:
    client = app.test_client()
    assert login(client, accounts["reader"]).status_code == 302
    response = client.post("/api/things/x/invalidate", headers={"X-CSRFToken": token(client)})
    assert response.status_code == 403
    assert "needs the writer role" in response.json["error"]


def test_writer_can_invalidate_with_the_csrf_header(app, accounts) -> None:
    client = app.test_client()
    login(client, accounts["writer"])
    response = client.post("/api/things/x/invalidate", headers={"X-CSRFToken": token(client)})
    assert response.status_code == 200 and response.json == {"invalidated": "x", "by": True}


def test_missing_csrf_token_is_refused(app, accounts) -> None:
    client = app.test_client()
    login(client, accounts["writer"])
    response = client.post("/api/things/x/invalidate", json={"reason": "bad"})
    assert response.status_code == 400
    assert "CSRF" in response.json["error"]


def test_wrong_csrf_token_is_refused(app, accounts) -> None:
    client = app.test_client()
    login(client, accounts["writer"])
    response = client.post("/api/things/x/invalidate", headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400


def test_login_without_csrf_token_is_refused(app, accounts) -> None:
    response = app.test_client().post("/auth/login", data={"username": accounts["writer"], "password": PASSWORD})
    assert response.status_code == 400


def test_writer_is_not_admin(app, accounts) -> None:
    client = app.test_client()
    login(client, accounts["writer"])
    assert client.post("/things/x/delete", headers={"X-CSRFToken": token(client)}).status_code == 403
    client = app.test_client()
    login(client, accounts["admin"])
    assert client.post("/things/x/delete", headers={"X-CSRFToken": token(client)}).status_code == 200


def test_login_and_logout(app, accounts) -> None:
    client = app.test_client()
    assert client.get("/things").status_code == 302  # anonymous: sent to the login page
    wrong = login(client, accounts["reader"], "not the password")
    assert wrong.status_code == 401 and "wrong password" in wrong.text
    unknown = login(client, "nobody", PASSWORD)
    assert unknown.status_code == 401 and "wrong password" in unknown.text
    assert login(client, accounts["reader"]).status_code == 302
    assert client.get("/things").json["role"] == "reader"
    assert client.get("/auth/me").json["username"] == accounts["reader"]
    assert client.post("/auth/logout", data={"csrf_token": token(client)}).status_code == 302
    assert client.get("/auth/me").json["username"] is None
    assert client.get("/things").status_code == 302


def test_login_redirects_only_within_the_site(app, accounts) -> None:
    for target, expected in (("/things", "/things"), ("//evil.example/x", "/"), ("https://evil.example/", "/")):
        client = app.test_client()
        csrf = token(client)
        response = client.post(f"/auth/login?next={target}",
                               data={"username": accounts["reader"], "password": PASSWORD, "csrf_token": csrf})
        assert response.headers["Location"] == expected


def test_removed_user_loses_access_at_once(app, accounts, store) -> None:
    client = app.test_client()
    login(client, accounts["writer"])
    users.remove(store, accounts["writer"])
    response = client.post("/api/things/x/invalidate", headers={"X-CSRFToken": token(client)})
    assert response.status_code == 401


def test_anonymous_read_is_off_by_default(app) -> None:
    client = app.test_client()
    assert app.config["ANONYMOUS_READ"] is False
    assert client.get("/things").status_code == 302
    assert client.get("/things", headers={"Accept": "application/json"}).status_code == 401


def test_anonymous_read_when_enabled_is_read_only(settings, accounts) -> None:
    client = minimal_app(settings, ANONYMOUS_READ=True).test_client()
    assert client.get("/things").json["role"] == "reader"
    response = client.post("/api/things/x/invalidate", headers={"X-CSRFToken": token(client)})
    assert response.status_code == 401


def test_read_only_mode_registers_no_write_route(settings, accounts) -> None:
    app = minimal_app(settings, READ_ONLY=True)
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/things" in rules
    assert "/api/things/<name>/invalidate" not in rules and "/things/<name>/delete" not in rules
    client = app.test_client()
    login(client, accounts["admin"])
    assert client.post("/api/things/x/invalidate", headers={"X-CSRFToken": token(client)}).status_code == 404


def test_session_cookie_is_httponly_lax_and_secure_outside_tests(settings, accounts) -> None:
    app = Flask("cookie_probe")
    app.config.update(SECRET_KEY="k", SETTINGS=settings)
    auth.init_app(app)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    client.get("/auth/login", base_url="https://localhost")
    cookie = client.get_cookie("session", domain="localhost")
    assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "Lax"


def test_without_a_secret_key_a_random_one_and_a_warning(settings, caplog) -> None:
    first, second = Flask("a"), Flask("b")
    for app in (first, second):
        app.config.update(SETTINGS=settings.with_(web_secret_key=None))
        auth.init_app(app)
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert "random" in caplog.text
    configured = Flask("c")
    configured.config.update(SETTINGS=settings.with_(web_secret_key="from-settings"))
    auth.init_app(configured)
    assert configured.config["SECRET_KEY"] == "from-settings"


def test_read_session_cannot_write(store) -> None:
    with pytest.raises(StoreError, match="AccessMode|read access mode|READ"):
        store.read_tx(lambda tx: tx.run("CREATE (n:Probe)").consume())
    assert store.run_text("MATCH (n:Probe) RETURN count(n) AS n")[0]["n"] == 0


def test_users_are_stored_hashed(store) -> None:
    users.add(store, "alice", PASSWORD, "writer")
    stored = store.run_text("MATCH (u:WebUser {username: 'alice'}) RETURN u.password_hash AS h")[0]["h"]
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert users.authenticate(store, "alice", PASSWORD) == {"username": "alice", "role": "writer"}
    assert users.authenticate(store, "alice", PASSWORD + "x") is None


def test_users_cli_add_list_remove(cli, store) -> None:
    added = cli("users", "add", "bob", "--role", "writer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    listed = cli("users", "list", "--format", "json")
    assert '"username": "bob"' in listed.output and '"role": "writer"' in listed.output
    assert "hash" not in listed.output
    again = cli("users", "add", "bob", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and "already exists" in again.output
    assert cli("users", "remove", "bob").exit_code == 0
    gone = cli("users", "remove", "bob")
    assert gone.exit_code == 1 and "no web user named 'bob'" in gone.output
    assert "Traceback" not in gone.output


def test_users_cli_refuses_mismatch_short_password_and_bad_names(cli, store) -> None:
    mismatch = cli("users", "add", "carol", input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output
    short = cli("users", "add", "dave", input="short\nshort\n")
    assert short.exit_code == 1 and "too short" in short.output
    bad = cli("users", "add", "x'}) DETACH DELETE n //", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert bad.exit_code == 1 and "bad username" in bad.output
    assert [u["username"] for u in users.list_users(store)] == ["carol"]


# -- the same rules through the real app ------------------------------------------------------
@pytest.fixture
def chain(store) -> list[str]:
    from latteprov import graph

    batch = graph.GraphBatch()
    uids = [batch.add("QuarkSmearing", name=n, radius=float(i), steps=i) for i, n in enumerate("abc")]
    batch.link(uids[1], uids[0], "input")
    batch.link(uids[2], uids[1], "input")
    graph.write(store, batch)
    return uids


def web_app(settings, **config):
    from latteprov.web import create_app

    return create_app({"SETTINGS": settings, "TESTING": True, "SECRET_KEY": "test", "ALLOW_WRITES": True, **config})


def valid(store, uid: str) -> bool:
    return store.run_text("MATCH (n:Entity {uid: $uid}) RETURN n.valid AS v", uid=uid)[0]["v"]


def test_web_reader_cannot_invalidate(settings, accounts, chain, store) -> None:
    client = web_app(settings).test_client()
    login(client, accounts["reader"])
    response = client.post(f"/node/{chain[0]}/invalidate", data={"reason": "bad", "csrf_token": token(client)})
    assert response.status_code == 403
    assert valid(store, chain[0])


def test_web_invalidate_without_csrf_token_is_refused(settings, accounts, chain, store) -> None:
    client = web_app(settings).test_client()
    login(client, accounts["writer"])
    response = client.post(f"/node/{chain[0]}/invalidate", data={"reason": "bad"})
    assert response.status_code == 400
    assert valid(store, chain[0])


def test_web_writer_invalidates_and_revalidates(settings, accounts, chain, store) -> None:
    client = web_app(settings).test_client()
    login(client, accounts["writer"])
    response = client.post(f"/node/{chain[0]}/invalidate", data={"reason": "bad plaquette", "csrf_token": token(client)})
    assert response.status_code == 302
    assert not any(valid(store, uid) for uid in chain)  # downstream too
    by = store.run_text("MATCH (:Entity {uid: $uid})-[:INVALIDATED_BY]->(i) RETURN i.by AS by", uid=chain[0])
    assert by == [{"by": accounts["writer"]}]
    client.post(f"/node/{chain[0]}/revalidate", data={"csrf_token": token(client)},
                headers={"X-CSRFToken": token(client)})
    assert all(valid(store, uid) for uid in chain)


def test_web_read_only_mode_has_no_write_routes(settings, accounts) -> None:
    app = web_app(settings, READ_ONLY=True)
    assert not [r.rule for r in app.url_map.iter_rules() if r.methods & {"POST", "PUT", "PATCH", "DELETE"}
                and not r.rule.startswith("/auth/")]
    assert any(r.rule.startswith("/api/find") for r in app.url_map.iter_rules())


def test_web_anonymous_visitors_must_log_in_unless_anonymous_read(settings, chain) -> None:
    closed = web_app(settings).test_client()
    assert closed.get(f"/node/{chain[0]}").status_code == 302
    assert closed.get(f"/api/node/{chain[0]}").status_code == 401
    assert closed.get("/api/openapi.json").status_code == 200  # the description holds no data
    open_ = web_app(settings, ANONYMOUS_READ=True).test_client()
    assert open_.get(f"/api/node/{chain[0]}").status_code == 200
    write = open_.post(f"/node/{chain[0]}/invalidate", data={"reason": "x", "csrf_token": token(open_)})
    assert write.status_code == 302 and "/auth/login" in write.headers["Location"]


@pytest.mark.parametrize("name", ["cfg?stream=e", "cfg#300", "lustre/a09m310/cfg 300", "cfg%20300", "Glättung 100%", "a&b=c"])
def test_every_url_the_app_builds_round_trips_any_node_name_through_the_login(settings, accounts, store, name) -> None:
    from urllib.parse import unquote

    from flask import url_for

    from latteprov.graph import GraphBatch
    b = GraphBatch()
    uid = b.add("QuarkSmearing", name=name, radius=1.0, steps=len(name))
    graph.write(store, b)
    app = web_app(settings)
    with app.test_request_context():
        links = [url_for("nodes.page", ident=name), url_for("graph.page", node=name),
                 url_for("nodes.lineage_page", ident=name), url_for("nodes.downstream_page", ident=name)]
    client = app.test_client()
    for link in links:
        response = client.get(link)  # anonymous: sent to the login page, the way back in next=
        assert response.status_code == 302
        back = unquote(response.location.split("next=", 1)[1])
        csrf = token(client)
        after = client.post(f"/auth/login?next={quote(back, safe='')}",
                            data={"username": accounts["reader"], "password": PASSWORD, "csrf_token": csrf})
        assert after.status_code == 302 and after.location == back, (link, back, after.location)
        page = client.get(after.location)
        assert page.status_code == 200, (link, page.status_code)
        assert name in html.unescape(page.get_data(as_text=True)) or uid in page.get_data(as_text=True)
        client.post("/auth/logout", data={"csrf_token": token(client)})
