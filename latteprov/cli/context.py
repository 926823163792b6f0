"""What every command shares: the settings and a lazily opened store."""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import click

from latteprov.config import Settings, load_settings

if TYPE_CHECKING:
    from latteprov.store import Store


class AppContext:
    """Settings read once per invocation; the database connection opened on first use."""

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def store(self) -> "Store":
        from latteprov.store import Store  # the driver is imported by commands that need it only

        return Store(self.settings)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


pass_app = click.make_pass_decorator(AppContext)
