"""Speed of the survey engine on an alliance-sized job (issue 4, item 8).

100,000 responses x 50 variables x 30 domains, four raking margins:

(a) a stratified cluster design raked to the four margins, then the 50 means in the 30
    domains with linearisation variance, calibration residuals included;
(b) the same design turned into a JKn replicate design (one replicate per PSU: 200), every
    replicate re-raked, then the 50 x 30 domain means with replicate variance.

Prints wall-clock seconds, peak memory, and, when ``Rscript`` is on the PATH, the time R's
survey package takes for the same jobs and the ratio. The data are synthetic
(:mod:`analysis.synthetic`); companies are grouped into 10 PSUs in each of 20 strata so the
JKn design has 200 replicates.

Usage::

    python -m bench.survey_speed [--quick] [--no-r]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.survey import SurveyDesign
from analysis.synthetic import generate_population

R_DIR = Path(__file__).resolve().parent / "r"

#: Five countries with two regions each: 10 regions x 3 size classes = 30 domains.
BENCH_COUNTRIES = {
    "DE": ("DE11", "DE21"),
    "FR": ("FRK2", "FR10"),
    "CZ": ("CZ08", "CZ01"),
    "ES": ("ES51", "ES30"),
    "IT": ("ITC1", "ITC4"),
}
MARGINS = ("country", "nace_group", "size_class", "value_chain")
DOMAINS = ["region", "size_class"]


@dataclass(frozen=True)
class Job:
    """The data of one benchmark run."""

    data: pd.DataFrame
    variables: list[str]
    margins: dict[str, dict[str, float]]


def make_job(n: int, n_variables: int, psu_per_stratum: int, seed: int = 20261125) -> Job:
    """Synthetic responses with design weights, PSUs and raking margins.

    The margins are the weighted counts of a re-weighted copy of the sample (each level of
    each margin tilted by up to about +-10%), so they agree on the total and raking has to
    iterate.
    """
    rng = np.random.default_rng(seed)
    areas = [f"s{j:02d}" for j in range((n_variables + 1) // 2)]
    pop = generate_population(rng, n_companies=n, countries=BENCH_COUNTRIES, skill_areas=areas)
    variables = [f"{kind}_{k}" for k in areas for kind in ("current", "required")][:n_variables]
    df = pop[["company_id", "country", "nace_group", "size_class", "value_chain", "region",
              *variables]].copy()
    df["stratum"] = df["country"] + "|" + df["nace_group"]
    # Ten (or psu_per_stratum) clusters of companies in every stratum.
    codes = df.groupby("stratum").cumcount().to_numpy()
    shuffle = rng.permutation(len(df))
    df["psu"] = df["stratum"] + "#" + (codes[shuffle] % psu_per_stratum).astype(str)
    base = df["size_class"].map({"10-49": 8.0, "50-249": 3.0, "250+": 1.2}).to_numpy()
    df["w"] = base * rng.uniform(0.8, 1.25, len(df))
    tilt = np.ones(len(df))
    for m in MARGINS:
        levels = np.sort(df[m].unique())
        factor = dict(zip(levels, np.exp(rng.uniform(-0.1, 0.1, len(levels))), strict=True))
        tilt *= df[m].map(factor).to_numpy()
    w_pop = df["w"].to_numpy() * tilt
    margins = {m: {str(k): float(v) for k, v in
                   pd.Series(w_pop).groupby(df[m].to_numpy()).sum().sort_index().items()}
               for m in MARGINS}
    return Job(df.reset_index(drop=True), variables, margins)


def job_taylor(job: Job) -> pd.DataFrame:
    """(a) Rake, then 50 x 30 domain means with linearisation variance."""
    d = SurveyDesign(job.data, weights="w", strata="stratum", psu="psu")
    d = d.rake(job.margins, max_iter=1000, tol=1e-9)
    return d.mean(job.variables, by=DOMAINS)


def job_replicate(job: Job) -> pd.DataFrame:
    """(b) JKn replicates, every replicate re-raked, then 50 x 30 domain means."""
    d = SurveyDesign(job.data, weights="w", strata="stratum", psu="psu")
    r = d.replicate("JKn")
    r = r.rake(job.margins, max_iter=1000, tol=1e-9)
    return r.mean(job.variables, by=DOMAINS)


def timed(fn: Callable[[Job], pd.DataFrame], job: Job, repeats: int) -> tuple[float, int, int]:
    """Best wall-clock time over ``repeats`` runs, peak traced memory, rows returned."""
    best = np.inf
    rows = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(job)
        best = min(best, time.perf_counter() - t0)
        rows = len(out)
    # Memory in a separate run: tracing numpy's allocations slows the run it measures.
    tracemalloc.start()
    fn(job)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return float(best), int(peak), rows


def run_r(script: str, paths: list[Path], timeout: float) -> float | None:
    """Seconds R reports for a job, or None when R fails or is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    try:
        done = subprocess.run([rscript, str(R_DIR / script), *map(str, paths)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  R {script}: no answer within {timeout:.0f} s")
        return None
    for line in done.stdout.splitlines():
        if line.startswith("SECONDS "):
            return float(line.split()[1])
    print(f"  R {script} failed:\n{done.stderr.strip()[-2000:]}")
    return None


def write_for_r(job: Job, folder: Path) -> list[Path]:
    """The data, margins and variable list the R scripts read."""
    data = folder / "data.csv"
    cols = ["stratum", "psu", "w", *MARGINS, "region", *job.variables]
    job.data[list(dict.fromkeys(cols))].to_csv(data, index=False)
    margins = folder / "margins.csv"
    pd.DataFrame([(m, level, total) for m, levels in job.margins.items()
                  for level, total in levels.items()],
                 columns=["variable", "level", "total"]).to_csv(margins, index=False)
    variables = folder / "variables.txt"
    variables.write_text("\n".join(job.variables) + "\n")
    return [data, margins, variables]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20,000 responses and 4 PSUs a stratum instead of 100,000 and 10")
    parser.add_argument("--no-r", action="store_true", help="do not run R for comparison")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each job")
    args = parser.parse_args(argv)
    n, per = (20_000, 4) if args.quick else (100_000, 10)
    job = make_job(n, 50, per)
    n_psu = job.data["psu"].nunique()
    n_dom = job.data.groupby(DOMAINS).ngroups
    print(f"## Survey engine speed: {n:,} responses x {len(job.variables)} variables x "
          f"{n_dom} domains, {len(job.margins)} raking margins, {n_psu} PSUs\n")
    results = []
    for name, fn, script in (
        ("(a) rake + linearised domain means", job_taylor, "speed_taylor.R"),
        (f"(b) JKn ({n_psu} replicates) re-raked + domain means", job_replicate,
         "speed_replicate.R"),
    ):
        seconds, peak, rows = timed(fn, job, args.repeats)
        results.append((name, seconds, peak, rows, script))
        print(f"{name}: {seconds:.2f} s, peak traced memory {peak / 2**20:.0f} MiB, "
              f"{rows} estimates", flush=True)
    r_seconds: dict[str, float | None] = {}
    if not args.no_r and shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_for_r(job, Path(tmp))
            for name, *_, script in results:
                print(f"running R for {name} ...", flush=True)
                r_seconds[script] = run_r(script, paths, timeout=3600)
    print("\n| job | Python (s) | peak memory (MiB) | R survey (s) | R / Python |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, seconds, peak, _, script in results:
        r = r_seconds.get(script)
        r_text = "not run" if r is None else f"{r:.1f}"
        ratio = "" if r is None else f"{r / seconds:.0f}x"
        print(f"| {name} | {seconds:.2f} | {peak / 2**20:.0f} | {r_text} | {ratio} |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak resident memory: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
