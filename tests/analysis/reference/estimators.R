# Reference values of the engine's estimators from R's survey package, on the api data sets
# exported by export_api.R. Run from this folder: Rscript estimators.R (writes
# estimators.json). Every number is written with 17 significant digits.
#
# Conventions matched by analysis.survey (see tests/analysis/test_estimators_r.py):
# * missing values: each variable on its own with na.rm=TRUE;
# * domains: svyby over the full design;
# * confidence intervals: t with the full design's degrees of freedom, degf(design), also
#   for svyciprop and svyquantile in domains (passed as df=);
# * lonely PSUs: options(survey.lonely.psu=...) around each case.
suppressPackageStartupMessages(library(survey))

source("json_writer.R")
to_json <- json_writer(unbox = FALSE, matrix_rows = FALSE)

read <- function(name) read.csv(file.path("data", paste0(name, ".csv")))
apistrat <- read("apistrat")
apiclus1 <- read("apiclus1")
apiclus2 <- read("apiclus2")
apisrs <- read("apisrs")

apipop <- read("apipop")
# a three-stage version of apiclus2 (counties, districts, schools) with made-up population
# sizes above the schools' stage, to exercise the multistage recursion twice: 100 counties;
# three times the sampled districts in a county (1, a certainty stage, where only one was
# sampled); the schools' fpc2
apiclus3 <- apiclus2
districts <- tapply(apiclus3$dnum, apiclus3$cnum, function(x) length(unique(x)))
sampled <- districts[as.character(apiclus3$cnum)]
apiclus3$f1 <- 100
apiclus3$f2 <- ifelse(sampled == 1, 1, 3 * sampled)
apiclus3$f3 <- apiclus3$fpc2
strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
clus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
# calibrated designs: the Taylor variance then works on calibration residuals
pop_stype <- as.data.frame(table(stype = apipop$stype))
pop_schwide <- as.data.frame(table(sch.wide = apipop$sch.wide))
pop_cal <- c(`(Intercept)` = nrow(apipop), stypeH = sum(apipop$stype == "H"),
             stypeM = sum(apipop$stype == "M"), api99 = sum(apipop$api99))
designs <- list(
  strat = strat,
  clus1 = clus1,
  strat_cal = calibrate(strat, ~stype + api99, pop_cal),
  clus1_rake = rake(clus1, list(~stype, ~sch.wide), list(pop_stype, pop_schwide),
                    control = list(maxit = 1000, epsilon = 1e-10)),
  clus1_ps = postStratify(clus1, ~stype, pop_stype),
  clus2 = svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2),
  clus3 = svydesign(id = ~cnum + dnum + snum, fpc = ~f1 + f2 + f3, data = apiclus3),
  clus2wr = svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2),
  srs = svydesign(id = ~1, fpc = ~fpc, data = apisrs),
  srswr = svydesign(id = ~1, weights = ~pw, data = apisrs)
)

# one row per (domain): estimate, se, deff, ci_low, ci_high, n
overall <- function(stat, design, var, n) {
  ci <- confint(stat, df = degf(design))
  list(estimate = unname(coef(stat)), se = unname(SE(stat)),
       deff = unname(deff(stat)), ci_low = unname(ci[, 1]), ci_high = unname(ci[, 2]),
       n = n)
}
domain <- function(res, design, n) {
  ci <- confint(res, df = degf(design))
  list(domain = as.character(res[[1]]), estimate = unname(coef(res)),
       se = unname(SE(res)), deff = unname(deff(res)), ci_low = unname(ci[, 1]),
       ci_high = unname(ci[, 2]), n = n)
}
count <- function(data, var, by = NULL) {
  ok <- !is.na(data[[var]])
  if (is.null(by)) return(sum(ok))
  as.vector(table(factor(data[[by]])[ok]))
}

# a case that R cannot compute (e.g. a multistage domain without any value) is left out and
# reported on the console
put <- function(out, key, expr) {
  value <- tryCatch(expr, error = function(e) {
    cat("skipped", key, ":", conditionMessage(e), "\n")
    NULL
  })
  if (!is.null(value)) out[[key]] <- value
  out
}

cases <- list()
for (dname in names(designs)) {
  d <- designs[[dname]]
  data <- d$variables
  out <- list(degf = degf(d))
  for (var in c("api00", "enroll", "acs.k3")) {
    f <- as.formula(paste0("~`", var, "`"))
    out[[paste0("mean_", var)]] <- overall(svymean(f, d, na.rm = TRUE, deff = TRUE), d, var,
                                          count(data, var))
    out[[paste0("total_", var)]] <- overall(svytotal(f, d, na.rm = TRUE, deff = TRUE), d,
                                           var, count(data, var))
    out <- put(out, paste0("mean_", var, "_by_stype"), domain(
      svyby(f, ~stype, d, svymean, na.rm = TRUE, deff = TRUE), d, count(data, var, "stype")))
    out <- put(out, paste0("total_", var, "_by_stype"), domain(
      svyby(f, ~stype, d, svytotal, na.rm = TRUE, deff = TRUE), d, count(data, var, "stype")))
  }
  out[["mean_api00_by_awards"]] <- domain(
    svyby(~api00, ~awards, d, svymean, deff = TRUE), d, count(data, "api00", "awards"))
  # proportion with the logit interval
  p <- svyciprop(~I(sch.wide == "Yes"), d, df = degf(d))
  m <- svymean(~I(sch.wide == "Yes"), d, deff = TRUE)
  out[["prop_schwide"]] <- list(estimate = unname(coef(p)), se = unname(SE(p)),
                                deff = unname(deff(m))[2],
                                ci_low = unname(attr(p, "ci")[1]),
                                ci_high = unname(attr(p, "ci")[2]), n = nrow(data))
  pb <- svyby(~I(sch.wide == "Yes"), ~stype, d, svyciprop, vartype = "ci", df = degf(d))
  pbse <- svyby(~I(sch.wide == "Yes"), ~stype, d, svyciprop, vartype = "se", df = degf(d))
  out[["prop_schwide_by_stype"]] <- list(domain = as.character(pb$stype),
                                         estimate = unname(coef(pb)),
                                         se = unname(SE(pbse)),
                                         ci_low = pb$ci_l, ci_high = pb$ci_u,
                                         n = as.vector(table(factor(data$stype))))
  # ratios (api00/api99 complete; acs.k3/acs.46 with missing values)
  for (pair in list(c("api00", "api99"), c("acs.k3", "acs.46"))) {
    fn <- as.formula(paste0("~`", pair[1], "`"))
    fd <- as.formula(paste0("~`", pair[2], "`"))
    ok <- complete.cases(data[, pair])
    if (sum(ok) < 2) next
    r <- svyratio(fn, fd, d, na.rm = TRUE, deff = TRUE)
    est <- as.vector(coef(r)); se <- as.vector(SE(r))
    tq <- qt(0.975, degf(d))
    key <- paste0("ratio_", pair[1], "_", pair[2])
    out[[key]] <- list(estimate = est, se = se, deff = as.vector(attr(r, "deff")),
                       ci_low = est - tq * se, ci_high = est + tq * se, n = sum(ok))
    out <- put(out, paste0(key, "_by_stype"), {
      rb <- svyby(fn, ~stype, d, svyratio, denominator = fd, na.rm = TRUE, deff = TRUE)
      est <- as.vector(coef(rb)); se <- as.vector(SE(rb))
      list(domain = as.character(rb$stype), estimate = est, se = se,
           deff = as.vector(deff(rb)), ci_low = est - tq * se, ci_high = est + tq * se,
           n = as.vector(table(factor(data$stype)[ok])))
    })
  }
  # quantiles, Woodruff intervals (survey 4.x defaults: qrule "math", interval "mean")
  for (var in c("api00", "acs.k3")) {
    f <- as.formula(paste0("~`", var, "`"))
    q <- svyquantile(f, d, c(0.25, 0.5, 0.9), na.rm = TRUE, ci = TRUE, df = degf(d))[[1]]
    out[[paste0("quantile_", var)]] <- list(
      p = c(0.25, 0.5, 0.9), estimate = q[, 1], se = q[, 4], ci_low = q[, 2],
      ci_high = q[, 3], n = rep(count(data, var), 3))
    # a domain without any value (acs.k3 in high schools) is an error in R: NA here
    qb <- lapply(sort(unique(data$stype)), function(s) {
      sub <- subset(d, stype == s)
      tryCatch(
        svyquantile(f, sub, c(0.25, 0.5, 0.9), na.rm = TRUE, ci = TRUE, df = degf(d))[[1]],
        error = function(e) matrix(NA, 3, 4))
    })
    out[[paste0("quantile_", var, "_by_stype")]] <- list(
      domain = rep(sort(unique(data$stype)), each = 3), p = rep(c(0.25, 0.5, 0.9), 3),
      estimate = unlist(lapply(qb, function(x) x[, 1])),
      se = unlist(lapply(qb, function(x) x[, 4])),
      ci_low = unlist(lapply(qb, function(x) x[, 2])),
      ci_high = unlist(lapply(qb, function(x) x[, 3])),
      n = rep(count(data, var, "stype"), each = 3))
  }
  cases[[dname]] <- out
}

# lonely PSUs: apistrat stratified by county, one school in several counties
lonely <- list()
for (rule in c("adjust", "average", "remove", "certainty")) {
  options(survey.lonely.psu = rule)
  d <- svydesign(id = ~1, strata = ~cname, weights = ~pw, data = apistrat)
  dc <- svydesign(id = ~dnum, strata = ~stype, weights = ~pw, data = apistrat, nest = TRUE)
  lonely[[rule]] <- list(
    degf = degf(d),
    mean_api00 = overall(svymean(~api00, d, deff = TRUE), d, "api00", nrow(apistrat)),
    total_enroll = overall(svytotal(~enroll, d, deff = TRUE), d, "enroll", nrow(apistrat)),
    mean_api00_by_stype = domain(svyby(~api00, ~stype, d, svymean, deff = TRUE), d,
                                 count(apistrat, "api00", "stype")),
    clustered_degf = degf(dc),
    clustered_mean_api00 = overall(svymean(~api00, dc, deff = TRUE), dc, "api00",
                                   nrow(apistrat)))
}
options(survey.lonely.psu = "fail")
cases[["lonely"]] <- lonely

writeLines(to_json(cases), "estimators.json")
cat(sprintf("wrote estimators.json (survey %s, R %s)\n", packageVersion("survey"),
            getRversion()))
