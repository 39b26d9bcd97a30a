#!/usr/bin/env python3
"""Runs the amends benchmark end to end and writes the results into bench/README.md.

    python3 bench/run.py [--entries 1000000] [--runs 3] [--hledger-runs 1] [--skip-hledger]

1. generates the workload with bench/workload.py into bench/data/ (CSV,
   ledger journal, exact sums; reused when present);
2. builds the C++ driver amends_bench (build/bench, Release, Ninja);
3. chooses the Python package amends as bench/_amends_path.py does (the dev
   tree when python/amends has a built extension, else the installed one);
4. runs, interleaved, --runs times each: C++ posting in memory, Python
   post_batch from a DataFrame (int64 minor units and str amounts), amends
   load CSV + balance report and + monthly activity (C++ and Python), and
   ledger / hledger on the same entries (hledger --hledger-runs times);
5. prints medians and ratios and writes them between the results markers
   of bench/README.md (and all raw runs to bench/data/results-*.json).

Every amends result is checked exactly against the generator's sums; a
mismatch stops the benchmark with an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _amends_path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
GENERATOR = BENCH / "workload.py"
README = BENCH / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

TARGET_CPP_POSTINGS = 2_000_000
TARGET_PY_POSTINGS = 1_000_000
TARGET_SPEEDUP = 30.0
TARGET_MEMORY = 0.10


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def die(message: str) -> None:
    print(f"bench/run.py: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- workload

def generate(args: argparse.Namespace, data: Path) -> dict[str, Path]:
    data.mkdir(parents=True, exist_ok=True)
    stem = f"w{args.entries}" + ("" if args.seed == 42 else f"s{args.seed}")
    files = {"csv": data / f"{stem}.csv", "journal": data / f"{stem}.journal", "sums": data / f"{stem}.sums.tsv"}
    jobs = []
    for kind, path in files.items():
        if path.exists() and path.stat().st_size > 0:
            continue
        tmp = path.with_name(path.name + ".tmp")
        cmd = [sys.executable, str(GENERATOR), "--entries", str(args.entries), "--seed", str(args.seed), "-o", str(tmp)]
        cmd += ["--sums"] if kind == "sums" else ["--format", "csv" if kind == "csv" else "ledger"]
        log(f"generating {path.name}")
        jobs.append((subprocess.Popen(cmd), tmp, path))
    for proc, tmp, path in jobs:
        if proc.wait() != 0:
            die(f"bench/workload.py failed for {path.name}")
        tmp.rename(path)
    return files


def run_quiet(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def build_driver(build_dir: Path) -> Path:
    cfg = ["cmake", "-S", str(REPO), "-B", str(build_dir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
           "-DAMENDS_BUILD_TESTS=OFF", "-DAMENDS_BUILD_BENCH=ON"]
    for attempt in range(1, 6):
        log(f"building amends_bench in {build_dir.relative_to(REPO)} (attempt {attempt})")
        r = run_quiet(cfg)
        if r.returncode == 0:
            r = run_quiet(["ninja", "-C", str(build_dir), "amends_bench"])
        if r.returncode == 0:
            return build_dir / "amends_bench"
        print(r.stdout[-4000:], file=sys.stderr)
        log("build failed (someone may be editing the core); retrying in 30 s")
        time.sleep(30)
    die("amends_bench does not build")
    raise AssertionError


def python_env(which: str) -> tuple[dict[str, str], str]:
    """An environment in which `import amends` gets the package bench/_amends_path.py chooses, and which it is."""
    choice = _amends_path.select(which)
    env = choice.env()
    probe = run_quiet([sys.executable, "-c", "import amends, amends._core"], env=env, cwd="/")
    if probe.returncode != 0:
        print(probe.stdout[-3000:], file=sys.stderr)
        die(f"the Python package amends ({choice.description}) does not import")
    if "older than" in choice.description:
        log(f"WARNING: the amends measured is older than the work tree's sources: {choice.description}")
    return env, choice.description


# ---------------------------------------------------------------- measurements

def run_json(cmd: list[str], env: dict[str, str] | None = None) -> list[dict]:
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode != 0:
        print(r.stderr[-5000:], file=sys.stderr)
        die(f"{' '.join(cmd)} exited with {r.returncode} (see above: a MISMATCH means amends computed a wrong result)")
    out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    for o in out:
        if not o.get("validated") or o.get("mismatches"):
            die(f"{' '.join(cmd)}: result not validated: {o}")
    return out


def run_timed(cmd: list[str]) -> dict:
    """Wall time and peak RSS of an external command (/usr/bin/time -v), output to /dev/null."""
    start = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        print(r.stderr[-3000:], file=sys.stderr)
        die(f"{' '.join(cmd)} exited with {r.returncode}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return {"seconds": round(seconds, 3), "peak_rss_kb": int(m.group(1)) if m else None}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- report

def machine_info() -> dict[str, str]:
    cpu = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    commit = run_quiet(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).stdout.strip()
    dirty = run_quiet(["git", "-C", str(REPO), "status", "--porcelain", "--", "cpp", "python"]).stdout.strip()
    cxx = run_quiet(["c++", "--version"]).stdout.splitlines()[:1]
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "compiler": cxx[0] if cxx else "unknown",
        "python": platform.python_version(),
        "commit": commit + (" (core or bindings modified in the work tree)" if dirty else ""),
    }


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x >= 1 else f"{x * 1000:.0f} ms"


def fmt_mb(kb: float | None) -> str:
    if kb is None or kb != kb:
        return "n/a"
    return f"{kb / 1024 / 1024:.2f} GB" if kb >= 1024 * 1024 else f"{kb / 1024:.0f} MB"


def render(results: dict) -> str:
    m = results["machine"]
    wl = results["workload"]
    R = results["runs"]
    med = results["medians"]
    lines = []
    lines.append(f"Measured {m['date']} on {m['nproc']} × {m['cpu']}, {m['memory']} RAM, Linux {m['kernel']}; "
                 f"{m['compiler']}; Python {m['python']}; amends at {m['commit']}.")
    lines.append("")
    lines.append(f"Workload: `bench/workload.py --entries {wl['entries']} --seed {wl['seed']}`: "
                 f"{wl['entries_posted']:,} entries, {wl['postings']:,} postings, CSV {wl['csv_mb']:.0f} MB. "
                 f"Medians of {R} run(s), interleaved; hledger {results['hledger_runs']} run(s). "
                 f"Python amends: {results['python_amends']}. "
                 f"Load average (1/5/15 min) {'/'.join(map(str, results['loadavg']['start']))} at the start, "
                 f"{'/'.join(map(str, results['loadavg']['end']))} at the end (2 cores: anything above ~0.5 "
                 "before the start means other work shared the machine). "
                 f"Command: `{results['command']}`.")
    lines.append("")
    lines.append("| measurement | median | runs | peak RSS | target | |")
    lines.append("| --- | ---: | --- | ---: | --- | --- |")

    def runs_of(key: str, field: str, fmt) -> str:
        return ", ".join(fmt(r[field]) for r in results["raw"].get(key, []))

    def row(label, key, field, fmt, target="", ok=None, rss=True):
        if key not in med:
            return
        mark = "" if ok is None else ("met" if ok else "**missed**")
        rss_text = fmt_mb(med[key].get("peak_rss_kb")) if rss else ""
        lines.append(f"| {label} | {fmt(med[key][field])} | {runs_of(key, field, fmt)} | {rss_text} | {target} | {mark} |")

    if "cpp_post" in med:
        p = med["cpp_post"]
        row("C++ `Ledger::post`, in memory, 1 thread: postings/s", "cpp_post", "postings_per_s", fmt_rate,
            "≥ 2,000,000", p["postings_per_s"] >= TARGET_CPP_POSTINGS)
        row("… the same: entries/s", "cpp_post", "entries_per_s", fmt_rate, rss=False)
    row("C++ `Ledger::post` without idempotency keys: postings/s", "cpp_post_nokeys", "postings_per_s", fmt_rate)
    if "py_post_fast" in med:
        row("Python `post_batch`, DataFrame, `amount_minor` int64 (fast path): postings/s", "py_post_fast",
            "postings_per_s", fmt_rate, "≥ 1,000,000", med["py_post_fast"]["postings_per_s"] >= TARGET_PY_POSTINGS,
            rss=False)
        row("Python `post_batch`, DataFrame, `amount` as str: postings/s", "py_post_str", "postings_per_s", fmt_rate,
            rss=False)
    row("amends (C++): `load_csv` + `balance_report`", "amends_balance", "seconds", fmt_s)
    row("… of which `load_csv`", "amends_balance", "load_s", fmt_s, rss=False)
    row("amends (C++): `load_csv` + `activity` (per month)", "amends_monthly", "seconds", fmt_s)
    row("amends (Python): `load_csv` + `balance_report`", "py_balance", "seconds", fmt_s)
    row("amends (Python): `load_csv` + `activity`", "py_monthly", "seconds", fmt_s)
    row("ledger 3.3: `ledger -f w.journal balance`", "ledger_balance", "seconds", fmt_s)
    row("ledger 3.3: `ledger -f w.journal register --monthly`", "ledger_monthly", "seconds", fmt_s)
    row("hledger 1.25: `hledger -f w.journal balance`", "hledger_balance", "seconds", fmt_s)
    row("hledger 1.25: `hledger -f w.journal balance -M`", "hledger_monthly", "seconds", fmt_s)

    ratios = results["ratios"]
    if ratios:
        lines.append("")
        lines.append("| ratio (medians of this run) | value | target | |")
        lines.append("| --- | ---: | --- | --- |")
        labels = {
            "ledger_balance_speedup": ("ledger balance time / amends load + balance time", "≥ 30x",
                                       lambda v: v >= TARGET_SPEEDUP),
            "ledger_balance_memory": ("amends peak RSS / ledger peak RSS (balance)", "≤ 0.10",
                                      lambda v: v <= TARGET_MEMORY),
            "ledger_monthly_speedup": ("ledger register --monthly / amends load + activity", "", None),
            "ledger_monthly_memory": ("amends peak RSS / ledger peak RSS (monthly)", "", None),
            "hledger_balance_speedup": ("hledger balance / amends load + balance", "", None),
            "hledger_balance_memory": ("amends peak RSS / hledger peak RSS (balance)", "", None),
            "hledger_monthly_speedup": ("hledger balance -M / amends load + activity", "", None),
            "hledger_monthly_memory": ("amends peak RSS / hledger peak RSS (monthly)", "", None),
        }
        for key, (label, target, check) in labels.items():
            if key not in ratios:
                continue
            v = ratios[key]
            text = f"{v:.1f}x" if key.endswith("speedup") else f"{v:.3f}"
            mark = "" if check is None else ("met" if check(v) else "**missed**")
            lines.append(f"| {label} | {text} | {target} | {mark} |")
    return "\n".join(lines)


def write_readme(block: str) -> None:
    text = README.read_text(encoding="utf-8") if README.exists() else "# amends benchmark\n\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + START + "\n" + block + "\n" + END + tail
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + START + "\n" + block + "\n" + END + "\n"
    README.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- main

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--runs", type=int, default=3, help="runs of every amends and ledger measurement (default 3)")
    p.add_argument("--hledger-runs", type=int, default=1, help="runs of each hledger command (default 1; ~60 s, ~9 GB each on 1M)")
    p.add_argument("--skip-hledger", action="store_true")
    p.add_argument("--skip-ledger", action="store_true")
    p.add_argument("--skip-python", action="store_true")
    p.add_argument("--python", choices=["auto", "installed", "dev"], default="auto",
                   help="which amends package the Python measurements use: the dev tree (python/ with a built "
                        "_core*.so), the installed one, or auto: the dev tree if it has one, else installed")
    p.add_argument("--data-dir", default=str(BENCH / "data"))
    p.add_argument("--build-dir", default=str(REPO / "build" / "bench"))
    p.add_argument("--no-readme", action="store_true", help="print the table but leave bench/README.md alone")
    args = p.parse_args()
    command = "python3 bench/run.py " + " ".join(sys.argv[1:])

    files = generate(args, Path(args.data_dir))
    driver = build_driver(Path(args.build_dir))
    py_env, py_origin = (None, "skipped") if args.skip_python else python_env(args.python)
    if py_env is not None:
        log(f"Python amends: {py_origin}")

    # amends must take the workload as generated and get every balance right.
    probe = subprocess.run([str(driver), "load-balance", str(files["csv"]), "--sums", str(files["sums"])],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        print(probe.stderr[-5000:], file=sys.stderr)
        die("amends did not load the workload as generated, or computed wrong balances")
    amends_csv, amends_sums = files["csv"], files["sums"]

    sums_arg = ["--sums", str(amends_sums)]
    plan: list[tuple[str, object]] = [
        ("cpp_post", lambda: run_json([str(driver), "post", str(amends_csv)] + sums_arg)[0]),
        ("cpp_post_nokeys", lambda: run_json([str(driver), "post", str(amends_csv), "--no-keys"] + sums_arg)[0]),
        ("amends_balance", lambda: run_json([str(driver), "load-balance", str(amends_csv)] + sums_arg)[0]),
        ("amends_monthly", lambda: run_json([str(driver), "load-monthly", str(amends_csv)] + sums_arg)[0]),
    ]
    bench_py = [sys.executable, str(BENCH / "bench_py.py")]
    if py_env is not None:
        order = iter(["fast,str", "str,fast"] * args.runs)  # alternate which variant goes first
        plan.append(("py_post", lambda: run_json(bench_py + ["post", str(amends_csv), "--variants", next(order)]
                                                 + sums_arg, py_env)))
        plan.append(("py_balance", lambda: run_json(bench_py + ["load-balance", str(amends_csv)] + sums_arg, py_env)[0]))
        plan.append(("py_monthly", lambda: run_json(bench_py + ["load-monthly", str(amends_csv)] + sums_arg, py_env)[0]))
    journal = str(files["journal"])
    if not args.skip_ledger:
        if not shutil.which("ledger"):
            die("ledger is not installed (apt-get install ledger), or pass --skip-ledger")
        plan.append(("ledger_balance", lambda: run_timed(["ledger", "-f", journal, "balance"])))
        plan.append(("ledger_monthly", lambda: run_timed(["ledger", "-f", journal, "register", "--monthly"])))
    hledger_plan = []
    if not args.skip_hledger:
        if not shutil.which("hledger"):
            die("hledger is not installed (apt-get install hledger), or pass --skip-hledger")
        hledger_plan = [("hledger_balance", lambda: run_timed(["hledger", "-f", journal, "balance"])),
                        ("hledger_monthly", lambda: run_timed(["hledger", "-f", journal, "balance", "-M"]))]

    load_start = os.getloadavg()
    raw: dict[str, list[dict]] = {}
    for run in range(1, args.runs + 1):
        steps = list(plan) + (hledger_plan if run <= args.hledger_runs else [])
        for key, fn in steps:
            log(f"run {run}/{args.runs}: {key}")
            out = fn()
            if key == "py_post":
                for o in out:
                    raw.setdefault(f"py_post_{o['variant']}", []).append(o)
                    log(f"  {o['variant']}: {o['postings_per_s']:,} postings/s")
                continue
            raw.setdefault(key, []).append(out)
            summary = {k: out[k] for k in ("seconds", "postings_per_s", "peak_rss_kb") if k in out}
            log(f"  {summary}")
    for run in range(args.runs + 1, args.hledger_runs + 1):  # more hledger runs than runs
        for key, fn in hledger_plan:
            log(f"extra hledger run {run}: {key}")
            raw.setdefault(key, []).append(fn())

    medians: dict[str, dict] = {}
    for key, runs in raw.items():
        fields = {k for r in runs for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        medians[key] = {k: median([r[k] for r in runs if r.get(k) is not None]) for k in fields}

    ratios: dict[str, float] = {}
    for tool in ("ledger", "hledger"):
        for kind, ours in (("balance", "amends_balance"), ("monthly", "amends_monthly")):
            theirs = f"{tool}_{kind}"
            if theirs in medians and ours in medians:
                ratios[f"{tool}_{kind}_speedup"] = medians[theirs]["seconds"] / medians[ours]["seconds"]
                if medians[theirs].get("peak_rss_kb"):
                    ratios[f"{tool}_{kind}_memory"] = medians[ours]["peak_rss_kb"] / medians[theirs]["peak_rss_kb"]

    first = raw["amends_balance"][0]
    results = {
        "command": command,
        "machine": machine_info(),
        "python_amends": py_origin,
        "workload": {
            "entries": args.entries, "seed": args.seed, "entries_posted": first["entries"],
            "postings": first["postings"], "csv_mb": files["csv"].stat().st_size / 1e6,
            "amends_csv": os.path.relpath(amends_csv, REPO),
        },
        "loadavg": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        "runs": args.runs,
        "hledger_runs": 0 if args.skip_hledger else args.hledger_runs,
        "raw": raw,
        "medians": medians,
        "ratios": ratios,
    }
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_json = Path(args.data_dir) / f"results-{stamp}.json"
    out_json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    block = render(results)
    print(block)
    if not args.no_readme:
        write_readme(block)
        log(f"wrote the results into {README.relative_to(REPO)} (raw runs: {out_json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
