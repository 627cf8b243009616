"""Properties of the synthetic company population and its survey sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.synthetic import (
    COUNTRIES,
    NACE_GROUPS,
    SIZE_CLASSES,
    SKILL_AREAS,
    draw_sample,
    generate_population,
    population_margins,
    population_table,
    population_totals,
)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return generate_population(np.random.default_rng(20261125), n_companies=6_000)


def test_same_seed_same_population_and_sample(population: pd.DataFrame) -> None:
    again = generate_population(np.random.default_rng(20261125), n_companies=6_000)
    pd.testing.assert_frame_equal(population, again)
    a = draw_sample(population, np.random.default_rng(7)).respondents
    b = draw_sample(population, np.random.default_rng(7)).respondents
    pd.testing.assert_frame_equal(a, b)


def test_other_seed_other_population(population: pd.DataFrame) -> None:
    other = generate_population(np.random.default_rng(1), n_companies=6_000)
    assert not population["employees"].equals(other["employees"])


def test_every_stratum_is_populated(population: pd.DataFrame) -> None:
    counts = population.groupby(["country", "nace_group", "size_class"]).size()
    assert len(counts) == len(COUNTRIES) * len(NACE_GROUPS) * len(SIZE_CLASSES)
    assert counts.min() >= 5
    assert population["stratum"].nunique() == len(counts)
    assert population["company_id"].is_unique


def test_employees_lie_in_their_size_class(population: pd.DataFrame) -> None:
    bounds = {"10-49": (10, 49), "50-249": (50, 249), "250+": (250, np.inf)}
    lo = population["size_class"].map(lambda s: bounds[s][0])
    hi = population["size_class"].map(lambda s: bounds[s][1])
    assert ((population["employees"] >= lo) & (population["employees"] <= hi)).all()


def test_regions_belong_to_their_country(population: pd.DataFrame) -> None:
    ok = [r in COUNTRIES[c] for c, r in zip(population["country"], population["region"],
                                            strict=True)]
    assert all(ok)


def test_answers_are_valid_and_consistent(population: pd.DataFrame) -> None:
    for k in SKILL_AREAS:
        cur, req = population[f"current_{k}"], population[f"required_{k}"]
        assert cur.between(0, 4).all() and req.between(0, 4).all()
        assert (population[f"gap_{k}"] == req - cur).all()
        assert (population[f"staff_{k}"] <= population["employees"]).all()
        assert (population[f"upskill_{k}"] <= population[f"staff_{k}"]).all()
    assert (population["hard_to_fill"] <= population["vacancies"]).all()
    assert set(population["training_plan"]) == {"yes", "no"}


def test_answers_correlate_with_size(population: pd.DataFrame) -> None:
    log_e = np.log(population["employees"])
    for k in SKILL_AREAS:
        assert np.corrcoef(log_e, population[f"current_{k}"])[0, 1] > 0.2
        assert np.corrcoef(log_e, population[f"gap_{k}"])[0, 1] < -0.1
    plan = population.groupby("size_class")["training_plan"].apply(lambda s: (s == "yes").mean())
    assert plan["10-49"] < plan["50-249"] < plan["250+"]


def test_sample_weights_and_size_dependent_nonresponse(population: pd.DataFrame) -> None:
    sample = draw_sample(population, np.random.default_rng(3))
    r = sample.respondents
    assert 0.0 < sample.response_rate < 1.0
    assert len(r) == round(sample.response_rate * sample.n_selected)
    assert (r["design_weight"] == r["N_h"] / r["n_h"]).all()
    # N_h is the register count of the stratum.
    register = population["stratum"].value_counts()
    assert (r["N_h"].to_numpy() == register[r["stratum"]].to_numpy()).all()
    # Response rate rises with size class: respondents / selected by class.
    n_sel = r.drop_duplicates("stratum").groupby("size_class")["n_h"].sum()
    rate = r.groupby("size_class").size() / n_sel
    assert set(rate.index) == set(SIZE_CLASSES)
    assert rate["10-49"] < rate["50-249"] < rate["250+"]
    # Nonresponse makes design-weighted counts fall short of the register.
    assert r["design_weight"].sum() < len(population)


def test_margins_and_totals_match_the_register(population: pd.DataFrame) -> None:
    margins = population_margins(population)
    for v, levels in margins.items():
        assert sum(levels.values()) == len(population)
        assert levels == population[v].value_counts().astype(float).to_dict()
    totals = population_totals(population)
    assert totals["(Intercept)"] == len(population)
    assert totals["employees"] == population["employees"].sum()
    assert "size_class[10-49]" not in totals  # the reference level has no constraint
    assert totals["size_class[250+]"] == (population["size_class"] == "250+").sum()


def test_bad_arguments_are_rejected(population: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="n_companies"):
        generate_population(np.random.default_rng(0), n_companies=50)
    with pytest.raises(ValueError, match="fractions"):
        draw_sample(population, np.random.default_rng(0), fractions={"10-49": 0.5})


def test_population_table_adds_up(population: pd.DataFrame) -> None:
    table = population_table(population)
    assert len(table) == population["stratum"].nunique()
    assert table["companies"].sum() == len(population)
    assert table["employees"].sum() == population["employees"].sum()
    by_size = table.groupby("size_class")["companies"].sum().astype(float).to_dict()
    assert by_size == population_margins(population)["size_class"]
