"""Run every issue-10 benchmark in turn and write their tables into docs/performance.md.

Each benchmark is its own process (a clean interpreter, its own databases, dropped at the end) and prints markdown;
this script keeps what they print, with the machine and the time each took, in the results part of
docs/performance.md, one section per benchmark (the sizing guide above it is written by hand from these numbers).

Usage: .venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--no-write]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DOC = BENCH.parent / "docs" / "performance.md"
BEGIN, END = "<!-- RESULTS: written by bench/run_all.py -->", "<!-- END RESULTS -->"

# name → (script, arguments of a full run, what it is compared with)
PLAN = {
    "intake": ("bench_intake_wrk.py", [], "a minimal FastAPI app with one prepared INSERT, same database"),
    "burst": ("bench_burst.py", [], "absolute targets"),
    "restart": ("bench_restart.py", [], "absolute targets"),
    "live": ("bench_live.py", [], "NOTIFY → LISTEN on PostgreSQL itself"),
    "views": ("bench_views.py", ["--setup"], "the same views at 100k cases"),
    "case_rules": ("bench_case_rules.py", [], "the literal status lists and CASE the SQL functions replaced"),
    # the 5M-row run for memory takes ~20 minutes alone here: run it apart (bench_bulk_import.py --big 5000000)
    "bulk": ("bench_bulk_import.py", ["--no-big"], "plain COPY of the same file; geopandas sjoin + COPY"),
    "sync_async": ("bench_sync_async.py", [], "sync vs async psycopg on the same request"),
    "screen": ("bench_screen.py", ["--minutes", "12", "--sample", "60"], "a fresh /screen opened at the end on the same cases"),
}


def run(name: str, quick: bool) -> str:
    """One benchmark's printed tables, with its wall time (or why it could not run)."""
    script, args, reference = PLAN[name]
    path = BENCH / script
    if not path.exists():
        return f"## {name}\n\nnot run: {script} is not in bench/\n"
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(path), *(["--quick"] if quick else args)], cwd=BENCH.parent,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(BENCH.parent)})
    took = time.monotonic() - started
    body = done.stdout.strip() or "(printed nothing)"
    if done.returncode:
        body += f"\n\nFAILED (exit {done.returncode}):\n```\n{done.stderr.strip()[-3000:]}\n```"
    print(f"--- {name}: {took:.0f} s", file=sys.stderr)
    return f"## {name} ({script}; compared with: {reference}; {took:.0f} s)\n\n{body}\n"


def machine() -> str:
    """What the numbers were measured on."""
    import platform

    import psycopg

    url = os.environ.get("CITYGRID_BENCH_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        shared = conn.execute("SHOW shared_buffers").fetchone()[0]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}, Python {platform.python_version()}, "
            f"PostgreSQL {version} (shared_buffers {shared})")


def write(doc_path: Path, sections: dict[str, str], header: str) -> None:
    """Put each benchmark's section between its own markers in the results part of the document, replacing an
    earlier run of the same benchmark and keeping the others (so one benchmark can be re-run alone)."""
    doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    head, _, rest = doc.partition(BEGIN)
    body, _, tail = rest.partition(END)
    for name, text in sections.items():
        start, stop = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        block = f"{start}\n{header}\n{text}\n{stop}"
        if start in body:
            before, _, after = body.partition(start)
            body = before + block + after.partition(stop)[2]
        else:
            body = body.rstrip("\n") + "\n\n" + block + "\n"
    doc_path.write_text(f"{head}{BEGIN}{body}{END}{tail}", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every benchmark at its smoke size")
    ap.add_argument("--only", nargs="*", choices=sorted(PLAN), help="run just these (their sections are replaced)")
    ap.add_argument("--no-write", action="store_true", help="print, do not touch docs/performance.md")
    args = ap.parse_args(argv)
    started = time.monotonic()
    where = machine()
    sections = {}
    for name in args.only or PLAN:
        when = dt.datetime.now(dt.timezone.utc)
        text = run(name, args.quick)
        sections[name] = text
        print(text, flush=True)
        if not args.no_write:
            write(DOC, {name: text}, f"_Measured {when:%Y-%m-%d %H:%M} UTC on {where}"
                                     f"{'; quick sizes' if args.quick else ''}._\n")
    print(f"all: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
