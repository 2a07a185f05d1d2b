"""Which adapter drives a plan's router: the built-ins in one dict, plus installed plugins.

Built-ins and plugins go through the same path: an adapter is a class (or any callable) with
`from_options(options) -> Router`, or a callable taking the options mapping. Third-party
packages register theirs under the entry-point group `rollout.routers`:

    [project.entry-points."rollout.routers"]
    envoy = "rollout_envoy:EnvoyRouter"

An unknown name is a plan error listing the known ones; it never falls back to another router.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rollout_cli.errors import PlanError, UsageError
from rollout_cli.routers.base import Router, RouterSplit
from rollout_cli.routers.file import FileRouter
from rollout_cli.routers.haproxy import HAProxyRouter
from rollout_cli.routers.http import HttpRouter
from rollout_cli.routers.nginx import NginxRouter
from rollout_cli.routers.options import OptionsError

if TYPE_CHECKING:  # the plan package (YAML, schema) is not needed to drive a router
    from importlib.metadata import EntryPoint


ENTRY_POINT_GROUP = "rollout.routers"

BUILTIN_ROUTERS: dict[str, type] = {
    "file": FileRouter,
    "http": HttpRouter,
    "nginx": NginxRouter,
    "haproxy": HAProxyRouter,
}

_PROTOCOL_METHODS = ("read", "apply", "verify", "explain")


def _plugin_entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points  # only when a plugin is asked for: it costs ~8 ms

    # A built-in name always wins, so an installed package cannot silently replace `file`.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN_ROUTERS}


def known_adapters() -> list[str]:
    """Every adapter name a plan may use: built-ins, then installed plugins. Loads no plugin."""
    return list(BUILTIN_ROUTERS) + sorted(_plugin_entry_points())


def adapter_factory(adapter: str) -> Any:
    """The class (or callable) behind `adapter`. PlanError for an unknown name, UsageError for a
    plugin that is installed but cannot be imported."""
    if adapter in BUILTIN_ROUTERS:
        return BUILTIN_ROUTERS[adapter]
    plugins = _plugin_entry_points()
    if adapter not in plugins:
        raise PlanError(f"unknown router adapter {adapter!r} (known: {', '.join(known_adapters())})")
    entry = plugins[adapter]
    try:
        return entry.load()
    except Exception as error:  # any import-time failure of third-party code
        raise UsageError(
            f"router adapter {adapter!r} is installed ({entry.value}) but failed to load: "
            f"{type(error).__name__}: {error}",
            hint=f"reinstall or fix the package that provides the {ENTRY_POINT_GROUP} entry point {adapter!r}",
        ) from error


def router_for(adapter: str, options: Mapping[str, Any]) -> Router:
    """A ready router for a plan's `router:` section. Validates the options (PlanError with the
    option and an example) and contacts nothing: building a router is safe in `plan validate`."""
    factory = adapter_factory(adapter)
    build = getattr(factory, "from_options", factory)
    try:
        router = build(dict(options or {}))
    except (PlanError, UsageError):
        raise
    except Exception as error:
        raise UsageError(f"router adapter {adapter!r} rejected its options: {type(error).__name__}: {error}") from error
    missing = [m for m in _PROTOCOL_METHODS if not callable(getattr(router, m, None))]
    if missing:
        raise UsageError(
            f"router adapter {adapter!r} does not implement the router protocol (missing: {', '.join(missing)})"
        )
    return router


def options_problems(adapter: str, options: Mapping[str, Any]) -> list[str]:
    """Messages for a plan's router section (empty when fine), for the plan validator."""
    try:
        router_for(adapter, options)
    except OptionsError as error:
        return error.messages
    except (PlanError, UsageError) as error:
        return [error.message]
    return []


def split_problems(adapter: str, options: Mapping[str, Any], split: RouterSplit) -> dict[str, str]:
    """Offline: why the adapter cannot serve `split` exactly ({"traffic"|"shadow": message}); empty
    when it can, or when the adapter has no such check (`split_problems` is optional)."""
    try:
        router = router_for(adapter, options)
    except (PlanError, UsageError):
        return {}  # options_problems reports it
    check = getattr(router, "split_problems", None)
    return dict(check(split)) if check is not None else {}
