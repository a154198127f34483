"""Run every drill, one after another, and print one table: drill | figure | value | target | met.

A drill is any module of this package with TITLE and run (so a new drill joins by existing). Exit status 1 if a
target was missed or a drill failed to run.

Usage: .venv/bin/python -m tests.drills [--quick] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from tests.drills.common import met

PACKAGE = "tests.drills"


def drills() -> dict[str, object]:
    """name → module, for every module of the package that has TITLE and run."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{PACKAGE}.{info.name}")
        if hasattr(module, "TITLE") and callable(getattr(module, "run", None)):
            found[info.name] = module
    return found


def run_one(module, quick: bool) -> dict:
    """A drill's outcome, with the seconds it took; a drill that raised misses its target 'ran'."""
    started = time.monotonic()
    try:
        outcome = module.run(quick=quick)
    except Exception:  # the table says so, and the runner goes on with the next drill
        traceback.print_exc()
        outcome = {"figures": {"ran": 0}, "targets": {"ran": "= 1"}, "ok": False}
    outcome["seconds"] = time.monotonic() - started
    return outcome


def table(outcomes: dict[str, dict]) -> str:
    """The markdown table of every figure."""
    lines = ["| drill | figure | value | target | met |", "|---|---|---|---|---|"]
    for name, outcome in outcomes.items():
        for figure, value in outcome["figures"].items():
            target = outcome["targets"].get(figure, "")
            mark = "" if not target else "yes" if met(value, target) else "**NO**"
            shown = f"{value:.2f}" if isinstance(value, float) else value
            lines.append(f"| {name} | {figure} | {shown} | {target} | {mark} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="each drill's short version")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these drills")
    args = ap.parse_args(argv)
    found = drills()
    unknown = set(args.only or ()) - set(found)
    if unknown:
        ap.error(f"no drill {', '.join(sorted(unknown))} (there are: {', '.join(sorted(found))})")
    outcomes = {}
    started, load = time.monotonic(), os.getloadavg()[0]
    for name in args.only or sorted(found):
        print(f"--- {name}: {found[name].TITLE}", file=sys.stderr, flush=True)
        outcomes[name] = run_one(found[name], args.quick)
        print(f"--- {name}: {outcomes[name]['seconds']:.0f} s, {'ok' if outcomes[name]['ok'] else 'MISSED'}",
              file=sys.stderr, flush=True)
    print(table(outcomes))
    missed = [name for name, outcome in outcomes.items() if not outcome["ok"]]
    # the times depend on what else the machine runs: its load says how much CPU the drills had
    print(f"\n{len(outcomes)} drills in {time.monotonic() - started:.0f} s on {os.cpu_count()} cores (load average "
          f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end); "
          + (f"targets missed: {', '.join(missed)}" if missed else "every target met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
