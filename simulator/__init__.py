"""A simulated AWS organization: IAM Access Analyzer (which moto lacks) on top of moto.

Used by the tests, by `aa-scan --demo` and by the benchmarks; never imported by `scanner/` or
`reports/`. Start one with `python -m simulator serve SCENARIO` or `World(load_scenario(p))`.
"""

from .scenario import Scenario, ScenarioError, load_scenario
from .world import World, WorldError

__all__ = ["Scenario", "ScenarioError", "World", "WorldError", "load_scenario"]
