"""Schemathesis against /api/openapi.json (in-process, WSGI): no input makes the app answer 500.

Every operation of the document, with the write routes enabled, is called as a logged-in
writer carrying a valid CSRF token, so the fuzzed requests reach the code that writes.
"""
from __future__ import annotations

import re
from itertools import islice

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from latteprov import graph, synth, users

PASSWORD = "fuzzing-password"
EXAMPLES = 12  # per operation: a bounded run for CI


@pytest.fixture
def app(store, make_app):
    """A writable app (CSRF and logins on) over two configurations of tier S and one writer."""
    for batch in islice(synth.campaign("S", 0), 2):
        graph.write(store, batch)
    users.add(store, "fuzzer", PASSWORD, "writer")
    return make_app(SECRET_KEY="fuzz", ALLOW_WRITES=True, ANONYMOUS_READ=False, WTF_CSRF_ENABLED=True)


@pytest.fixture
def writer_headers(app) -> dict[str, str]:
    """Cookie and X-CSRFToken headers of a logged-in writer's session."""
    client = app.test_client()
    page = client.get("/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    client.post("/auth/login", data={"username": "fuzzer", "password": PASSWORD, "csrf_token": token})
    me = client.get("/auth/me").json
    assert me["role"] == "writer"
    cookie = client.get_cookie("session")
    return {"Cookie": f"session={cookie.value}", "X-CSRFToken": me["csrf_token"]}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_a_server_error(app, writer_headers, mode) -> None:
    """Valid inputs (positive) and inputs that break the document's own types and bounds
    (negative: limit=-1, depth=-3, text for integers ...): never a 500."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            tried[operation.label] = tried.get(operation.label, 0) + 1
            response = case.call(headers=writer_headers)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            call()
        except Unsatisfiable:  # nothing can break this operation's document (no parameter to get wrong)
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert {"POST /node/{ident}/invalidate", "GET /api/find/{kind}"} <= set(tried)
    print(f"\n{mode.value}: {sum(tried.values())} requests over {len(tried)} operations, no 500")
