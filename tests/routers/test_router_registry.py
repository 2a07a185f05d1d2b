"""The registry: built-ins in one dict, plugins through the `rollout.routers` entry-point group."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rollout_cli.errors import PlanError, UsageError
from rollout_cli.plan.model import Stage
from rollout_cli.routers.base import RouterSplit
from rollout_cli.routers.file import FileRouter
from rollout_cli.routers.registry import BUILTIN_ROUTERS, known_adapters, options_problems, router_for

PLUGIN = '''
from rollout_cli.routers.base import RouterSplit

class MemoryRouter:
    """A router kept in memory, as a third-party package would ship one."""
    def __init__(self, start):
        self.split = RouterSplit(float(start), 0.0)
    @classmethod
    def from_options(cls, options):
        return cls(options.get("start", 0))
    def read(self):
        return self.split
    def apply(self, split):
        self.split = split
    def verify(self, split):
        return self.split == split
    def explain(self, split):
        return [f"memory set {split.candidate_traffic}"]

def half_router(options):
    return "not a router"
'''


def install_plugin(root: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str, module: str = PLUGIN,
                   module_name: str = "rollout_memory") -> None:
    """A distribution on sys.path, as `pip install` would leave it."""
    (root / f"{module_name}.py").write_text(module)
    dist = root / "rollout_memory-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rollout-memory\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rollout.routers]\n" + textwrap.dedent(entry_points))
    monkeypatch.syspath_prepend(str(root))


def test_builtins_are_known_in_a_fixed_order() -> None:
    assert list(BUILTIN_ROUTERS) == ["file", "http", "nginx", "haproxy"]
    assert known_adapters()[:4] == ["file", "http", "nginx", "haproxy"]


def test_an_unknown_adapter_is_a_plan_error_listing_the_known_ones() -> None:
    with pytest.raises(PlanError) as caught:
        router_for("envoy", {})
    assert caught.value.message == f"unknown router adapter 'envoy' (known: {', '.join(known_adapters())})"


def test_a_plugin_goes_through_the_same_path_as_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "memory = rollout_memory:MemoryRouter\n")
    assert "memory" in known_adapters()
    router = router_for("memory", {"start": 5})
    assert router.read() == RouterSplit(5.0, 0.0)
    router.apply(RouterSplit(25.0, 0.0))
    assert router.verify(RouterSplit(25.0, 0.0))


def test_a_plugin_cannot_replace_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "file = rollout_memory:MemoryRouter\n")
    assert isinstance(router_for("file", {"path": "router.json"}), FileRouter)


def test_a_plugin_that_fails_to_load_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "broken = rollout_broken:MemoryRouter\n", module="import no_such_module\n",
                   module_name="rollout_broken")
    with pytest.raises(UsageError) as caught:
        router_for("broken", {})
    assert caught.value.message == (
        "router adapter 'broken' is installed (rollout_broken:MemoryRouter) but failed to load: "
        "ModuleNotFoundError: No module named 'no_such_module'"
    )
    assert caught.value.hint == "reinstall or fix the package that provides the rollout.routers entry point 'broken'"


def test_a_plugin_that_is_not_a_router_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "half = rollout_memory:half_router\n")
    with pytest.raises(UsageError) as caught:
        router_for("half", {})
    assert caught.value.message == (
        "router adapter 'half' does not implement the router protocol (missing: read, apply, verify, explain)"
    )


def test_options_problems_for_the_validator_touch_nothing(tmp_path: Path) -> None:
    assert options_problems("file", {"path": str(tmp_path / "absent" / "router.json")}) == []
    assert not (tmp_path / "absent").exists()
    assert options_problems("haproxy", {"socket": "/nowhere.sock", "backend": "b", "baseline_server": "a",
                                        "candidate_server": "c"}) == []
    assert options_problems("http", {"url": "ftp://x"}) == [
        ("http router: option url must be an http:// or https:// URL, not 'ftp://x' "
        "(e.g. options: {url: https://router.internal/splits/ranker, token: ${env:ROUTER_TOKEN}})")
    ]


def test_a_stage_asks_for_its_traffic_and_shadow_shares() -> None:
    stage = Stage(name="canary", index=1, traffic=1.0, shadow=0.0, min_duration_s=0, min_units=0,
                  approval_required=False, guards=())
    assert stage.split == RouterSplit(candidate_traffic=1.0, shadow=0.0)
