"""Statistical validation of the survey engine by simulation (issue 4, item 7).

A synthetic register of about 20,000 companies (country x NACE group x size class strata,
skills answers correlated with size; :mod:`analysis.synthetic`) is sampled again and again:
a stratified simple random sample with size-dependent sampling fractions, then
size-dependent nonresponse. Each sample is analysed three ways:

* **unweighted**: every respondent counts the same (weights N/n, no strata), the naive
  analysis;
* **design-weighted**: the stratified design with weights N_h/n_h and the finite population
  correction, ignoring nonresponse;
* **calibrated**: the design-weighted sample raked to the register counts of country, NACE
  group and size class (linearisation variance with calibration residuals);
* **calibrated + employees**: calibrated (raking distance) to the same counts and, in
  addition, to the register's total of persons employed, as the employment weights of
  business surveys are.

Over the replications it reports, per estimator and method, the relative bias of the
estimates against the register's true values, the coverage of the nominal 95% confidence
intervals (t with design degrees of freedom), and the ratio of the mean estimated standard
error to the empirical standard deviation of the estimates. Prints a Markdown table.

Usage::

    python -m bench.survey_coverage [--replications 2000] [--seed 1] [--replicates 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.survey import SurveyDesign
from analysis.synthetic import (
    draw_sample,
    generate_population,
    population_margins,
    population_totals,
)

#: What is estimated: (kind, variable, label); the proportion is of the level "yes".
TARGETS: tuple[tuple[str, str, str], ...] = (
    ("mean", "current_software", "mean current level, software"),
    ("mean", "gap_battery", "mean gap, battery"),
    ("proportion", "training_plan", "share with a training plan"),
    ("total", "upskill_software", "total staff to upskill, software"),
    ("total", "vacancies", "total vacancies"),
)
METHODS = ("unweighted", "design-weighted", "calibrated", "calibrated + employees")


@dataclass(frozen=True)
class Truth:
    """The register's true value of one target."""

    kind: str
    variable: str
    label: str
    value: float


def true_values(population: pd.DataFrame) -> list[Truth]:
    """True population means, shares and totals of the targets."""
    out = []
    for kind, var, label in TARGETS:
        col = population[var]
        if kind == "mean":
            value = float(col.mean())
        elif kind == "proportion":
            value = float((col == "yes").mean())
        else:
            value = float(col.sum())
        out.append(Truth(kind, var, label, value))
    return out


def estimate(design: SurveyDesign, truths: list[Truth]) -> np.ndarray:
    """(targets, 3) array of estimate, ci_low, ci_high for one analysed sample."""
    rows = []
    means = [t.variable for t in truths if t.kind == "mean"]
    totals = [t.variable for t in truths if t.kind == "total"]
    m = design.mean(means).set_index("variable")
    tt = design.total(totals).set_index("variable")
    for t in truths:
        if t.kind == "mean":
            r = m.loc[t.variable]
        elif t.kind == "total":
            r = tt.loc[t.variable]
        else:
            r = design.proportion(t.variable, level="yes").iloc[0]
        rows.append((r["estimate"], r["ci_low"], r["ci_high"], r["se"]))
    return np.array(rows, dtype=float)


def analyse(sample: pd.DataFrame, n_population: int, margins: dict[str, dict[str, float]],
            totals: dict[str, float], truths: list[Truth], replicates: int = 0,
            seed: int = 0) -> np.ndarray:
    """(methods, targets, 4) estimates, CI bounds and SEs of one sample.

    With ``replicates`` > 0 a fifth analysis is added: the calibrated estimates with the
    variance of a bootstrap replicate design (R's ``type="bootstrap"``) whose every
    replicate is raked too.
    """
    data = sample.assign(naive_weight=n_population / len(sample))
    naive = SurveyDesign(data, weights="naive_weight")
    # A stratum can end up with a single respondent after nonresponse; R's "adjust" rule
    # centres its PSU total at the grand mean instead of failing.
    design = SurveyDesign(data, weights="design_weight", strata="stratum", fpc="N_h",
                          lonely_psu="adjust")
    calibrated = design.rake(margins, max_iter=100, tol=1e-10)
    with_employees = design.calibrate(totals, method="raking", max_iter=100)
    designs = [naive, design, calibrated, with_employees]
    if replicates:
        boot = design.replicate("bootstrap", replicates=replicates, seed=seed)
        designs.append(boot.rake(margins, max_iter=100, tol=1e-10))
    return np.stack([estimate(d, truths) for d in designs])


def summarise(results: np.ndarray, truths: list[Truth], methods: tuple[str, ...] = METHODS
              ) -> pd.DataFrame:
    """Relative bias, coverage and SE ratio per target and method."""
    rows = []
    for j, t in enumerate(truths):
        for i, method in enumerate(methods):
            est, lo, hi, se = (results[:, i, j, c] for c in range(4))
            rows.append({
                "estimator": t.label,
                "kind": t.kind,
                "method": method,
                "true value": t.value,
                "relative bias (%)": 100.0 * (est.mean() - t.value) / t.value,
                "coverage of 95% CI (%)": 100.0 * np.mean((lo <= t.value) & (t.value <= hi)),
                "mean SE / empirical SD": se.mean() / est.std(ddof=1),
            })
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """The summary as a Markdown table."""
    lines = ["| estimator | method | true value | relative bias (%) | coverage of 95% CI (%) "
             "| mean SE / empirical SD |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in table.itertuples(index=False):
        value = f"{r[3]:,.0f}" if r[1] == "total" else f"{r[3]:.3f}"
        lines.append(f"| {r[0]} | {r[2]} | {value} | {r[4]:+.2f} | {r[5]:.1f} "
                     f"| {r[6]:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replicates", type=int, default=0,
                        help="also analyse with this many bootstrap replicates, each raked")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    population = generate_population(rng, n_companies=args.companies)
    truths = true_values(population)
    margins = population_margins(population)
    totals = population_totals(population, categorical=tuple(margins),
                               numeric=("employees",))
    methods = METHODS + ((f"calibrated, {args.replicates} bootstrap replicates",)
                         if args.replicates else ())
    results = np.empty((args.replications, len(methods), len(truths), 4))
    sizes = np.empty(args.replications)
    rates = np.empty(args.replications)
    t0 = time.perf_counter()
    for b in range(args.replications):
        sample = draw_sample(population, rng)
        sizes[b] = len(sample.respondents)
        rates[b] = sample.response_rate
        results[b] = analyse(sample.respondents, len(population), margins, totals, truths,
                             args.replicates, int(rng.integers(2**31)))
    seconds = time.perf_counter() - t0
    print(f"## Coverage and bias: {args.replications} samples from a register of "
          f"{len(population):,} companies\n")
    print(f"{population['stratum'].nunique()} strata; on average {sizes.mean():.0f} "
          f"respondents, response rate {100 * rates.mean():.1f}%; calibration rakes to the "
          f"counts of {', '.join(margins)} (and the total of persons employed). "
          f"{seconds:.0f} s.\n")
    print(markdown(summarise(results, truths, methods)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
