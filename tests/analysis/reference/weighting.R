# Reference values for the weighting part of analysis.survey: post-stratification, raking,
# calibration (linear, bounded linear, raking, logit) and trimming on apistrat and apiclus1,
# and the same weighting applied to a JK1 replicate design of apiclus1.
# For every case: all final weights, and estimates with standard errors (overall and by a
# domain) computed by R's survey package. Written with 17 significant digits.
# Run from this folder: Rscript weighting.R   (writes weighting.json)
suppressPackageStartupMessages(library(survey))

apistrat <- read.csv("data/apistrat.csv")
apiclus1 <- read.csv("data/apiclus1.csv")
apipop <- read.csv("data/apipop.csv")

source("json_writer.R")
to_json <- json_writer(unbox = TRUE, matrix_rows = FALSE)

# --- designs and population totals --------------------------------------------------------
ds <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
dc <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)

pop_stype <- as.data.frame(table(stype = apipop$stype))
pop_schwide <- as.data.frame(table(sch.wide = apipop$sch.wide))
pop_awards <- as.data.frame(table(awards = apipop$awards))
pop_cross <- as.data.frame(table(stype = apipop$stype, sch.wide = apipop$sch.wide))
N <- nrow(apipop)
api99_total <- sum(apipop$api99)
pop_cal_clus <- c(`(Intercept)` = N, stypeH = sum(apipop$stype == "H"),
                  stypeM = sum(apipop$stype == "M"), api99 = api99_total)
pop_cal_strat <- c(`(Intercept)` = N, stypeH = sum(apipop$stype == "H"),
                   stypeM = sum(apipop$stype == "M"), sch.wideYes = sum(apipop$sch.wide == "Yes"),
                   api99 = api99_total)
rake_control <- list(maxit = 1000, epsilon = 1e-10)
cal_epsilon <- 1e-12

estimates <- function(d) {
  m <- svymean(~api00, d)
  t <- svytotal(~enroll, d)
  t99 <- svytotal(~api99, d)
  bm <- svyby(~api00, ~awards, d, svymean)
  bt <- svyby(~enroll, ~awards, d, svytotal)
  list(
    mean_api00 = list(estimate = unname(coef(m)), se = unname(SE(m))),
    total_enroll = list(estimate = unname(coef(t)), se = unname(SE(t))),
    total_api99 = list(estimate = unname(coef(t99)), se = unname(SE(t99))),
    mean_api00_by_awards = list(level = as.character(bm$awards), estimate = unname(coef(bm)),
                                se = unname(SE(bm))),
    total_enroll_by_awards = list(level = as.character(bt$awards), estimate = unname(coef(bt)),
                                  se = unname(SE(bt)))
  )
}
case <- function(d, before) {
  c(list(weights = unname(weights(d)), base_weights = unname(weights(before))), estimates(d))
}

out <- list()
for (name in c("apistrat", "apiclus1")) {
  d <- if (name == "apistrat") ds else dc
  cases <- list(unweighted_design = c(list(weights = unname(weights(d))), estimates(d)))
  cases$poststratify_stype <- case(postStratify(d, ~stype, pop_stype), d)
  cases$poststratify_stype_schwide <- case(postStratify(d, ~stype + sch.wide, pop_cross), d)
  r2 <- rake(d, list(~stype, ~sch.wide), list(pop_stype, pop_schwide), control = rake_control)
  cases$rake_stype_schwide <- case(r2, d)
  r3 <- rake(d, list(~stype, ~sch.wide, ~awards), list(pop_stype, pop_schwide, pop_awards),
             control = rake_control)
  cases$rake_stype_schwide_awards <- case(r3, d)
  if (name == "apistrat") {
    f <- ~stype + sch.wide + api99
    pop <- pop_cal_strat
    cases$calibrate_linear <- case(calibrate(d, f, pop), d)
    cases$calibrate_raking <- case(calibrate(d, f, pop, calfun = "raking", epsilon = cal_epsilon), d)
    cases$calibrate_logit <- case(calibrate(d, f, pop, calfun = "logit", bounds = c(0.7, 1.5),
                                            epsilon = cal_epsilon), d)
    cases$calibrate_linear_bounded <- case(calibrate(d, f, pop, calfun = "linear",
                                                     bounds = c(0.96, 1.035),
                                                     epsilon = cal_epsilon), d)
    cases$trim <- case(trimWeights(d, upper = 40, lower = 20), d)
    cases$trim_strict <- case(trimWeights(d, upper = 40, lower = 20, strict = TRUE), d)
    cases$rake_then_trim <- case(trimWeights(r2, upper = 45, lower = 16), r2)
  } else {
    f <- ~stype + api99
    pop <- pop_cal_clus
    cl <- calibrate(d, f, pop)
    cases$calibrate_linear <- case(cl, d)
    cases$calibrate_raking <- case(calibrate(d, f, pop, calfun = "raking", epsilon = cal_epsilon), d)
    cases$calibrate_raking_bounded <- case(calibrate(d, f, pop, calfun = "raking",
                                                     bounds = c(0.5, 1.7),
                                                     epsilon = cal_epsilon), d)
    cases$calibrate_logit <- case(calibrate(d, f, pop, calfun = "logit", bounds = c(0.5, 2),
                                            epsilon = cal_epsilon), d)
    cases$calibrate_linear_bounded <- case(calibrate(d, f, pop, calfun = "linear",
                                                     bounds = c(0.5, 1.7),
                                                     epsilon = cal_epsilon), d)
    cases$calibrate_linear_then_trim <- case(trimWeights(cl, upper = 50, lower = 20), cl)
    cases$calibrate_linear_then_trim_strict <- case(trimWeights(cl, upper = 50, lower = 20,
                                                                strict = TRUE), cl)
  }
  out[[name]] <- cases
}

# --- weighting a replicate design re-weights every replicate ----------------------------
rc <- as.svrepdesign(dc, type = "JK1")
repw <- function(d) unname(as.matrix(weights(d, "analysis")))
rep_case <- function(d) {
  m <- svymean(~api00, d)
  t <- svytotal(~enroll, d)
  list(weights = unname(weights(d, "sampling")), replicate_weights = repw(d),
       mean_api00 = list(estimate = unname(coef(m)), se = unname(SE(m))),
       total_enroll = list(estimate = unname(coef(t)), se = unname(SE(t))))
}
out$apiclus1_jk1 <- list(
  scale = rc$scale, rscales = unname(rc$rscales), mse = rc$mse,
  unweighted_design = rep_case(rc),
  poststratify_stype = rep_case(postStratify(rc, ~stype, pop_stype)),
  rake_stype_schwide = rep_case(rake(rc, list(~stype, ~sch.wide), list(pop_stype, pop_schwide),
                                     control = rake_control)),
  calibrate_linear = rep_case(calibrate(rc, ~stype + api99, pop_cal_clus)),
  calibrate_raking = rep_case(calibrate(rc, ~stype + api99, pop_cal_clus, calfun = "raking",
                                        epsilon = cal_epsilon)),
  calibrate_logit = rep_case(calibrate(rc, ~stype + api99, pop_cal_clus, calfun = "logit",
                                       bounds = c(0.4, 2.5), epsilon = cal_epsilon))
)
# JKn on the stratified design (as.svrepdesign applies the strata's fpc in rscales).
rs <- as.svrepdesign(ds, type = "JKn")
out$apistrat_jkn <- list(
  unweighted_design = rep_case(rs),
  poststratify_schwide = rep_case(postStratify(rs, ~sch.wide, pop_schwide)),
  rake_stype_schwide_awards = rep_case(rake(rs, list(~stype, ~sch.wide, ~awards),
                                            list(pop_stype, pop_schwide, pop_awards),
                                            control = rake_control)),
  calibrate_linear = rep_case(calibrate(rs, ~stype + sch.wide + api99, pop_cal_strat)),
  calibrate_raking = rep_case(calibrate(rs, ~stype + sch.wide + api99, pop_cal_strat,
                                        calfun = "raking", epsilon = cal_epsilon))
)
out$settings <- list(rake_epsilon = rake_control$epsilon, rake_maxit = rake_control$maxit,
                     calibrate_epsilon = cal_epsilon,
                     survey_version = as.character(packageVersion("survey")),
                     r_version = as.character(getRversion()))

writeLines(to_json(out), "weighting.json")
cat("wrote weighting.json\n")
