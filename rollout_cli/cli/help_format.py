"""Help text that reads like the examples: `rollout status PLAN`, and flags without a type.

Typer prints a required argument as `{PLAN}` in the usage line and a `<bool>` after every flag;
neither is something a person types. Typer builds its parameter classes itself (there is no
hook to pass our own), so the two display methods are replaced once, here, before any help is
rendered. Everything else about typer's help is left as it is.
"""

from __future__ import annotations

from typing import Any

_applied = False


def plain_help() -> None:
    global _applied
    if _applied:
        return
    from typer import core

    def usage_name(self: Any) -> str:
        name = str(self.display_name_raw)
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    original = core.TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag else original(self, ctx)

    core.TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    _applied = True
