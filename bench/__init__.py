"""aa-scan's benchmarks, run from the repository root as modules: `python -m bench.NAME`.

The working directory puts `scanner`, `reports`, `simulator`, `bench` and `tests` on the
import path (no script edits sys.path); `tests` is needed by bench_history only, for the
builders the tests use. bench/ is not part of the wheel.
"""
