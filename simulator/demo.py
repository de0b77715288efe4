"""The demo world that `aa-scan --demo` scans (found through the `aa_scan.worlds` entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from .scenario import load_scenario
from .world import World

# Configuration the demo applies under the user's own: one region excluded on purpose, so
# the demo shows every verdict (the region is denied by an SCP, by design, in the scenario).
DEMO_CONFIG: dict[str, Any] = {
    "exclude": {"us-west-1": "Decommissioned in 2025; blocked by the region-deny SCP."},
}


class DemoWorld(World):
    config_overrides = DEMO_CONFIG


@contextmanager
def demo_world() -> Iterator[World]:
    path = resources.files("simulator") / "scenarios" / "demo.yaml"
    with resources.as_file(path) as scenario_path:
        scenario = load_scenario(scenario_path)
    world = DemoWorld(scenario)
    with world:
        yield world
