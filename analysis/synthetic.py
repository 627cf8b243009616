"""A synthetic population of automotive-sector companies and a survey drawn from it.

One generator, reused by the benchmarks (coverage and speed), the analysis tests and the
survey app's demo data. Every number it makes is synthetic: no figure here describes a real
country, sector or company.

The population is a business register of companies with 10 or more persons employed, in
strata country x NACE group x size class (the CVTS size classes 10-49, 50-249, 250+). Each
company has a number of persons employed drawn within its size class, a value-chain position
and a NUTS-2 region, and "true" answers to a skills-needs questionnaire that depend on its
size: larger companies have higher current proficiency, are more likely to have a training
plan and have smaller skills gaps. The sample is a stratified simple random sample without
replacement with size-dependent sampling fractions, followed by size-dependent nonresponse
(larger companies answer more often), so that design weights alone are biased for
size-related answers and calibration to register counts corrects most of that bias.

Columns of the population frame (one row per company)
-----------------------------------------------------
``company_id`` int, ``country`` (ISO 3166-1 alpha-2), ``nace_group`` (a NACE Rev. 2 group
label), ``size_class`` ("10-49", "50-249", "250+"), ``stratum`` (``country|nace|size``),
``employees`` (persons employed), ``value_chain`` (value-chain position), ``region``
(NUTS-2 code), ``training_plan`` ("yes"/"no"), ``trained_12m`` (staff trained in the last
12 months), ``vacancies``, ``hard_to_fill`` (hard-to-fill vacancies, <= vacancies), and per
skill area ``k``: ``current_<k>`` and ``required_<k>`` (proficiency 0-4), ``gap_<k>``
(required - current), ``staff_<k>`` (staff whose job needs the skill), ``upskill_<k>``
(staff needing upskilling in 12 months).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "COUNTRIES",
    "NACE_GROUPS",
    "SIZE_CLASSES",
    "SKILL_AREAS",
    "SurveySample",
    "generate_population",
    "draw_sample",
    "population_margins",
    "population_table",
    "population_totals",
]

#: Countries of the default population and their synthetic NUTS-2 regions (the first region
#: of DE, FR and CZ is the alliance's pilot region: Stuttgart, Rhône-Alpes, Moravia-Silesia).
COUNTRIES: Mapping[str, tuple[str, ...]] = {
    "DE": ("DE11", "DE21", "DE92"),
    "FR": ("FRK2", "FR10", "FRF1"),
    "CZ": ("CZ08", "CZ01", "CZ06"),
    "ES": ("ES51", "ES30", "ES41"),
}
#: NACE Rev. 2 groups: motor vehicles, parts, related manufacturing, sale and repair.
NACE_GROUPS: tuple[str, ...] = ("C29.1", "C29.3", "C22-C28", "G45")
SIZE_CLASSES: tuple[str, ...] = ("10-49", "50-249", "250+")
#: Default skill areas (short keys; the questionnaire maps them to its own variables).
SKILL_AREAS: tuple[str, ...] = ("battery", "software", "data_ai", "automation", "cyber")
VALUE_CHAIN: tuple[str, ...] = ("oem", "tier1", "tier2", "battery", "aftermarket", "sales",
                                "engineering_it", "other")

# Register shares of the size classes (persons employed 10-49, 50-249, 250+) and their
# bounds; a synthetic mix shaped like manufacturing registers, not a published figure.
_SIZE_SHARES = np.array([0.68, 0.24, 0.08])
_SIZE_BOUNDS = ((10, 49), (50, 249), (250, 20000))
# Value-chain probabilities by NACE group (rows follow NACE_GROUPS, columns VALUE_CHAIN).
_VALUE_CHAIN_P = np.array([
    [0.45, 0.20, 0.05, 0.10, 0.00, 0.05, 0.10, 0.05],
    [0.00, 0.40, 0.40, 0.08, 0.02, 0.00, 0.05, 0.05],
    [0.00, 0.25, 0.45, 0.15, 0.00, 0.00, 0.05, 0.10],
    [0.00, 0.00, 0.00, 0.00, 0.55, 0.40, 0.00, 0.05],
])


def generate_population(rng: np.random.Generator, n_companies: int = 20_000,
                        countries: Mapping[str, Sequence[str]] = COUNTRIES,
                        skill_areas: Sequence[str] = SKILL_AREAS) -> pd.DataFrame:
    """Generate a synthetic register of companies with their true questionnaire answers.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same population.
    n_companies : int
        Number of companies (at least 10 per country x NACE group x size class on average).
    countries : mapping of str to sequence of str
        Country codes and the NUTS-2 regions of each.
    skill_areas : sequence of str
        Keys of the skill areas; each gives the columns ``current_<k>``, ``required_<k>``,
        ``gap_<k>``, ``staff_<k>``, ``upskill_<k>``.

    Returns
    -------
    pandas.DataFrame
        One row per company, columns as in the module docstring, sorted by ``company_id``.

    Raises
    ------
    ValueError
        If ``n_companies`` is too small for the number of strata, or a key is repeated.
    """
    country_codes = list(countries)
    n_strata = len(country_codes) * len(NACE_GROUPS) * len(SIZE_CLASSES)
    if n_companies < 10 * n_strata:
        raise ValueError(f"n_companies must be at least {10 * n_strata} for {n_strata} strata")
    if len(set(skill_areas)) != len(skill_areas):
        raise ValueError("skill area keys must be unique")
    n = n_companies
    # Country and NACE group with unequal, fixed shares; size class from register shares.
    country_p = np.linspace(1.6, 0.8, len(country_codes))
    country_p /= country_p.sum()
    nace_p = np.array([0.12, 0.30, 0.18, 0.40])
    country = rng.choice(len(country_codes), size=n, p=country_p)
    nace = rng.choice(len(NACE_GROUPS), size=n, p=nace_p)
    size = rng.choice(len(SIZE_CLASSES), size=n, p=_SIZE_SHARES)
    # Persons employed: log-uniform inside the class (heavy upper tail for 250+).
    lo = np.array([b[0] for b in _SIZE_BOUNDS], dtype=float)[size]
    hi = np.array([b[1] for b in _SIZE_BOUNDS], dtype=float)[size]
    employees = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1.0)))).astype(np.int64)
    employees = np.clip(employees, lo.astype(np.int64), hi.astype(np.int64))
    cum = _VALUE_CHAIN_P.cumsum(axis=1)
    value_chain = (rng.random(n)[:, None] > cum[nace]).sum(axis=1)
    regions = [list(countries[c]) for c in country_codes]
    n_regions = np.array([len(r) for r in regions])
    region_idx = np.floor(rng.random(n) ** 1.4 * n_regions[country]).astype(np.intp)
    region_codes = np.array([r for rs in regions for r in rs])
    region_offset = np.concatenate(([0], np.cumsum(n_regions)[:-1]))
    region = region_codes[region_offset[country] + region_idx]

    # Size enters every answer through z, the standardised log of persons employed.
    log_e = np.log(employees)
    z = (log_e - log_e.mean()) / log_e.std()
    capability = 0.35 * z + rng.normal(0.0, 0.8, n)
    frame: dict[str, np.ndarray] = {
        "company_id": np.arange(1, n + 1),
        "country": np.array(country_codes)[country],
        "nace_group": np.array(NACE_GROUPS)[nace],
        "size_class": np.array(SIZE_CLASSES)[size],
        "employees": employees,
        "value_chain": np.array(VALUE_CHAIN)[value_chain],
        "region": region,
    }
    p_plan = 1.0 / (1.0 + np.exp(-(-0.4 + 1.1 * z + 0.5 * capability)))
    frame["training_plan"] = np.where(rng.random(n) < p_plan, "yes", "no")
    frame["trained_12m"] = rng.binomial(employees, np.clip(0.10 + 0.06 * z, 0.01, 0.5))
    vacancies = rng.poisson(0.03 * employees + 0.5)
    frame["vacancies"] = vacancies
    frame["hard_to_fill"] = rng.binomial(vacancies, np.clip(0.45 - 0.08 * z, 0.05, 0.9))
    for j, key in enumerate(skill_areas):
        shift = 0.25 * np.sin(j + 1.0)
        current = np.clip(np.rint(1.7 + shift + 0.45 * z + 0.6 * capability
                                  + rng.normal(0.0, 0.6, n)), 0, 4).astype(np.int64)
        required = np.clip(np.rint(2.6 + shift + 0.15 * z + 0.2 * capability
                                   + rng.normal(0.0, 0.6, n)), 0, 4).astype(np.int64)
        staff = rng.binomial(employees, np.clip(0.15 + 0.05 * np.cos(j + 1.0), 0.02, 0.9))
        gap = required - current
        frame[f"current_{key}"] = current
        frame[f"required_{key}"] = required
        frame[f"gap_{key}"] = gap
        frame[f"staff_{key}"] = staff
        frame[f"upskill_{key}"] = rng.binomial(staff, np.clip(0.1 + 0.15 * gap, 0.02, 0.95))
    df = pd.DataFrame(frame)
    df.insert(4, "stratum", df["country"] + "|" + df["nace_group"] + "|" + df["size_class"])
    return df


@dataclass(frozen=True)
class SurveySample:
    """A stratified sample with its nonresponse, as :func:`draw_sample` returns it.

    Attributes
    ----------
    respondents : pandas.DataFrame
        The responding companies: the population columns plus ``N_h`` (stratum population
        size), ``n_h`` (stratum sample size) and ``design_weight`` (N_h / n_h, the inverse
        inclusion probability; nonresponse is left to calibration).
    n_selected : int
        Number of companies drawn.
    response_rate : float
        Respondents / selected.
    """

    respondents: pd.DataFrame
    n_selected: int
    response_rate: float


def draw_sample(population: pd.DataFrame, rng: np.random.Generator,
                fractions: Mapping[str, float] | None = None,
                response: Mapping[str, float] | None = None,
                min_per_stratum: int = 6) -> SurveySample:
    """Draw a stratified simple random sample and apply size-dependent nonresponse.

    In stratum h (country x NACE group x size class) ``n_h = min(N_h, max(min_per_stratum,
    round(f N_h)))`` companies are drawn without replacement, f depending on the size class;
    each selected company then answers with a probability that depends on its size class and
    grows with its persons employed inside the class (response is missing at random given
    size, the situation calibration on size is meant for).

    Parameters
    ----------
    population : pandas.DataFrame
        A frame from :func:`generate_population`.
    rng : numpy.random.Generator
        The only source of randomness.
    fractions : mapping, optional
        Sampling fraction per size class; default 0.08, 0.25, 0.6.
    response : mapping, optional
        Mean response propensity per size class; default 0.35, 0.5, 0.7.
    min_per_stratum : int
        Smallest stratum sample size.

    Returns
    -------
    SurveySample

    Raises
    ------
    ValueError
        If a fraction or propensity is outside (0, 1] or a size class has none.
    """
    fractions = dict(fractions or {"10-49": 0.08, "50-249": 0.25, "250+": 0.6})
    response = dict(response or {"10-49": 0.35, "50-249": 0.5, "250+": 0.7})
    for name, table in (("fractions", fractions), ("response", response)):
        missing = set(SIZE_CLASSES) - set(table)
        if missing:
            raise ValueError(f"{name} lacks the size classes {sorted(missing)}")
        if any(not 0.0 < v <= 1.0 for v in table.values()):
            raise ValueError(f"{name} must lie in (0, 1]")
    strata, n_pop = np.unique(population["stratum"].to_numpy(), return_inverse=True)
    big_n = np.bincount(n_pop, minlength=len(strata))
    size_of_stratum = np.empty(len(strata), dtype=object)
    size_of_stratum[n_pop] = population["size_class"].to_numpy()
    f = np.array([fractions[s] for s in size_of_stratum])
    n_h = np.minimum(big_n, np.maximum(min_per_stratum, np.rint(f * big_n))).astype(np.int64)
    # Stratified SRSWOR in one pass: rank random keys within each stratum and keep the
    # n_h smallest.
    keys = rng.random(len(population))
    order = np.lexsort((keys, n_pop))
    start = np.concatenate(([0], np.cumsum(big_n)[:-1]))
    rank = np.empty(len(population), dtype=np.int64)
    rank[order] = np.arange(len(population)) - start[n_pop[order]]
    selected = rank < n_h[n_pop]
    # Size-dependent response: the class mean propensity, tilted up for larger companies
    # within the class (on the logit scale, by the standardised log persons employed).
    size = population["size_class"].to_numpy()
    base = np.array([response[s] for s in size])
    log_e = np.log(population["employees"].to_numpy(dtype=float))
    tilt = 0.4 * (log_e - log_e.mean()) / log_e.std()
    logit = np.log(base / np.maximum(1.0 - base, 1e-12)) + tilt
    propensity = np.where(base >= 1.0, 1.0, 1.0 / (1.0 + np.exp(-logit)))
    answered = selected & (rng.random(len(population)) < propensity)
    resp = population.loc[answered].copy()
    h = n_pop[answered]
    resp["N_h"] = big_n[h]
    resp["n_h"] = n_h[h]
    resp["design_weight"] = big_n[h] / n_h[h]
    n_sel = int(selected.sum())
    return SurveySample(resp.reset_index(drop=True), n_sel, float(answered.sum()) / n_sel)


def population_margins(population: pd.DataFrame,
                       variables: Sequence[str] = ("country", "nace_group", "size_class"),
                       ) -> dict[str, dict[str, float]]:
    """Population counts of each level of each variable: the raking margins.

    Parameters
    ----------
    population : pandas.DataFrame
    variables : sequence of str

    Returns
    -------
    dict
        ``{variable: {level: count}}``, as ``SurveyDesign.rake`` takes it.
    """
    return {v: {str(k): float(c) for k, c in population[v].value_counts(sort=False)
                .sort_index().items()} for v in variables}


def population_totals(population: pd.DataFrame, categorical: Sequence[str] = ("size_class",),
                      numeric: Sequence[str] = ("employees",)) -> dict[str, float]:
    """Population totals in the form ``SurveyDesign.calibrate`` takes them.

    ``"(Intercept)"`` is the number of companies; ``"var[level]"`` the count of each level
    of a categorical variable except its first (sorted) level, the reference level of R's
    treatment contrasts; ``"var"`` the total of a numeric variable.

    Parameters
    ----------
    population : pandas.DataFrame
    categorical : sequence of str
    numeric : sequence of str

    Returns
    -------
    dict
    """
    totals: dict[str, float] = {"(Intercept)": float(len(population))}
    for v in categorical:
        counts = population[v].value_counts(sort=False).sort_index()
        for level, c in list(counts.items())[1:]:
            totals[f"{v}[{level}]"] = float(c)
    for v in numeric:
        totals[v] = float(population[v].sum())
    return totals


def population_table(population: pd.DataFrame,
                     by: Sequence[str] = ("country", "nace_group", "size_class"),
                     numeric: Sequence[str] = ("employees",)) -> pd.DataFrame:
    """Register counts and totals by a cross-classification, as a population-totals file.

    The shape of what an association uploads from a business register (e.g. Eurostat SBS
    enterprises ``ENT_NR`` and persons employed ``EMP_NR`` by NACE and size class).

    Parameters
    ----------
    population : pandas.DataFrame
    by : sequence of str
        Classification columns.
    numeric : sequence of str
        Numeric columns whose totals are given beside the counts.

    Returns
    -------
    pandas.DataFrame
        One row per observed combination of ``by`` (sorted), columns ``by``, ``companies``
        and one total per ``numeric`` column.
    """
    grouped = population.groupby(list(by), sort=True, observed=True)
    table = grouped.size().rename("companies").to_frame()
    for v in numeric:
        table[v] = grouped[v].sum()
    return table.reset_index()
