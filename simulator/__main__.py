"""`python -m simulator serve SCENARIO`: keep a simulated world up and print its environment."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from importlib import resources

from .scenario import ScenarioError, load_scenario
from .world import World, WorldError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Run a simulated AWS organization.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start a world and print the environment to reach it")
    serve.add_argument("scenario", nargs="?", default="demo",
                       help="a scenario YAML file, or the name of a bundled one (default: demo)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="default: any free port")
    generate = sub.add_parser("generate", help="write a generated large scenario as YAML")
    generate.add_argument("--regions", type=int, default=30)
    generate.add_argument("--accounts", type=int, default=400)
    generate.add_argument("--findings", type=int, default=100_000)
    generate.add_argument("--min-latency-ms", type=float, default=40)
    generate.add_argument("--max-latency-ms", type=float, default=250)
    generate.add_argument("--rate-limit", type=float, default=10.0)
    generate.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if args.command == "generate":
        import yaml

        from .generate import large_world

        document = large_world(regions=args.regions, accounts=args.accounts,
                               findings=args.findings, min_latency_ms=args.min_latency_ms,
                               max_latency_ms=args.max_latency_ms, rate_limit=args.rate_limit,
                               seed=args.seed)
        yaml.safe_dump(document, sys.stdout, sort_keys=False)
        return 0

    source = args.scenario
    try:
        if "/" not in source and not source.endswith((".yaml", ".yml")):
            bundled = resources.files("simulator") / "scenarios" / f"{source}.yaml"
            with resources.as_file(bundled) as path:
                scenario = load_scenario(path)
        else:
            scenario = load_scenario(source)
        world = World(scenario, host=args.host, port=args.port).start()
    except (ScenarioError, WorldError, OSError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"# simulated world {scenario.name!r} on {world.url} (Ctrl-C to stop)")
    print("unset AWS_PROFILE")
    for key, value in world.environment().items():
        print(f"export {key}={shlex.quote(value)}")
    print(f"# call statistics: curl {world.url}/_sim/stats", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        world.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
