"""``latteprov users add|remove|list``: who may log in to the web app, and with what role."""
from __future__ import annotations

import click

from latteprov import users as users_lib
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.output import emit, format_option


@click.group()
def users() -> None:
    """Manage web-app users (roles: reader < writer < admin)."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(users_lib.ROLES), default="reader", show_default=True,
              help="reader browses; writer may invalidate and revalidate; admin may do everything.")
@click.password_option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                       help="Prompted (twice, never echoed) when not given.")
@pass_app
def add(app: AppContext, username: str, role: str, password: str) -> None:
    """Add a user; the password is stored only as a werkzeug hash."""
    user = users_lib.add(app.store, username, password, role)
    click.echo(f"added user {user['username']} ({user['role']})")


@users.command("remove")
@click.argument("username")
@pass_app
def remove(app: AppContext, username: str) -> None:
    """Remove a user."""
    users_lib.remove(app.store, username)
    click.echo(f"removed user {username}")


@users.command("list")
@format_option()
@pass_app
def list_(app: AppContext, fmt: str) -> None:
    """List users and their roles."""
    emit(users_lib.list_users(app.store), fmt, columns=["username", "role", "created_at"])


COMMANDS: list[click.Command] = [users]
