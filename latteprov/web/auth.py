"""Access control for the web app: login, roles, CSRF, secure cookies, read-only mode.

Neo4j Community has no roles, so the app enforces them from ``WebUser`` nodes
(:mod:`latteprov.users`): reader < writer < admin. ``init_app(app)`` wires everything in; views
that write are guarded with ``@require_role("writer")`` placed *under* the route decorator, so
the route registers the guarded function. Settings (``app.config``):

- ``ANONYMOUS_READ`` (default False; ``latteprov demo`` turns it on): visitors who are not
  logged in may browse as readers. Otherwise every page but login needs a user.
- ``READ_ONLY`` (default False): routes guarded for writer or admin are never registered, so
  a read-only deployment has no write endpoint at all, not one that answers 403.
- ``SECRET_KEY``: from ``LATTEPROV_SECRET_KEY`` / the config file's ``[web] secret_key``;
  without one a random key per process (sessions end with the process) and a warning.

Every POST/PUT/PATCH/DELETE needs a CSRF token (flask-wtf): forms carry ``csrf_token()``,
JSON clients send it in the ``X-CSRFToken`` header (``GET /auth/me`` hands it out).
"""
from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from flask import (Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from latteprov import users
from latteprov.config import Settings, load_settings
from latteprov.web.db import get_store

F = TypeVar("F", bound=Callable[..., Any])
RANK = {role: rank for rank, role in enumerate(users.ROLES)}
WRITE_ROLES = frozenset(role for role in users.ROLES if RANK[role] >= RANK["writer"])
# Endpoints anyone may reach: logging in needs no login; static files, the API's
# description and the health check carry no data.
OPEN_ENDPOINTS = frozenset({"auth.login", "auth.logout", "auth.me", "static", "api.openapi", "healthz"})

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see this page."


class User(UserMixin):
    """A logged-in web user: the session keeps the name, the role is re-read every request."""

    def __init__(self, username: str, role: str) -> None:
        self.username, self.role = username, role

    def get_id(self) -> str:
        return self.username


class LoginForm(FlaskForm):
    username = StringField("User", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def init_app(app: Flask) -> None:
    """Install login/logout, CSRF protection, cookie settings, role checks and read-only mode.

    Call it before registering the blueprints that write. Users are looked up through the
    app's one store (:func:`web.db.get_store`).
    """
    app.config.setdefault("ANONYMOUS_READ", False)
    app.config.setdefault("READ_ONLY", False)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not (app.debug or app.testing),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=not (app.debug or app.testing),
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _settings(app).web_secret_key or _random_key(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(bp)
    app.before_request(_require_reader)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.jinja_env.globals["current_role"] = current_role
    if app.config["READ_ONLY"]:
        _leave_out_write_routes(app)


def _settings(app: Flask) -> Settings:
    return app.config.get("SETTINGS") or load_settings()


def _random_key(app: Flask) -> str:
    app.logger.warning("no web secret key set (LATTEPROV_SECRET_KEY or [web] secret_key): using a "
                       "random one, so sessions end when this process does")
    return secrets.token_hex(32)


@login_manager.user_loader
def _load_user(username: str) -> User | None:
    # Re-read each request: a removed user or a changed role takes effect at once.
    found = users.get(get_store(), username)
    return User(found["username"], found["role"]) if found else None


def current_role() -> str | None:
    """The role of this request: the user's, 'reader' for anonymous visitors when
    ``ANONYMOUS_READ`` is on, else None."""
    if current_user.is_authenticated:
        return current_user.role
    return "reader" if current_app.config.get("ANONYMOUS_READ") else None


def has_role(role: str) -> bool:
    """Whether this request holds ``role`` or a higher one."""
    have = current_role()
    return have is not None and RANK[have] >= RANK[role]


def require_role(role: str) -> Callable[[F], F]:
    """Decorate a view so only ``role`` or higher reaches it (401/login for anonymous, 403 else)."""
    users.check_role(role)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not has_role(role):
                return _refuse(role)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json")


def _refuse(role: str) -> Any:
    if not current_user.is_authenticated:
        if _wants_json():
            return jsonify(error=f"login required ({role} role)"), 401
        return redirect(url_for("auth.login", next=_here()))
    message = f"user {current_user.username} is a {current_user.role}; this needs the {role} role"
    if _wants_json():
        return jsonify(error=message), 403
    abort(403, description=message)


def _here() -> str:
    """This request's path and query as sent (the path re-quoted, so a node name with '?', '#',
    '%', spaces or '/' in it survives the trip through the login page)."""
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~")
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def _require_reader() -> Any:
    """Every endpoint but login and static files needs at least the reader role."""
    if request.endpoint is None or request.endpoint in OPEN_ENDPOINTS:
        return None
    if not has_role("reader"):
        return _refuse("reader")
    return None


def _csrf_refused(error: CSRFError) -> Any:
    message = f"CSRF check failed: {error.description}"
    if _wants_json():
        return jsonify(error=message), 400
    return message, 400, {"Content-Type": "text/plain; charset=utf-8"}


def _writes(view: Callable | None) -> bool:
    return getattr(view, "required_role", None) in WRITE_ROLES


def _leave_out_write_routes(app: Flask) -> None:
    """Make ``app`` register no route whose view needs writer or admin."""
    present = [rule.rule for rule in app.url_map.iter_rules() if _writes(app.view_functions.get(rule.endpoint))]
    if present:
        raise RuntimeError(f"auth.init_app must run before write routes are registered: {', '.join(present)}")
    register = app.add_url_rule

    @functools.wraps(register)
    def add_url_rule(rule: str, endpoint: str | None = None, view_func: Callable | None = None,
                     **options: Any) -> None:
        if _writes(view_func):
            return
        register(rule, endpoint, view_func, **options)

    app.add_url_rule = add_url_rule  # type: ignore[method-assign]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; on good credentials start a fresh session."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = users.authenticate(get_store(), form.username.data, form.password.data)
        if user is not None:
            session.clear()  # a new session on login: no fixation of a pre-login session id
            login_user(User(user["username"], user["role"]))
            return redirect(_safe_next(request.args.get("next")))
        error = "unknown user or wrong password"
    status = 401 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    """End the session (POST with a CSRF token, so no other site can log a user out)."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/me")
def me() -> Any:
    """Who this session is, its role and a CSRF token for JSON clients' X-CSRFToken header."""
    return jsonify(username=current_user.username if current_user.is_authenticated else None,
                   role=current_role(), csrf_token=generate_csrf())
