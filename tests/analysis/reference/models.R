# Reference values of the engine's models and tests from R's survey package: svyglm
# (gaussian and quasibinomial), svychisq (Rao-Scott F and first-order chi-square) and
# svyttest (difference of two domain means). Run from this folder: Rscript models.R
# (writes models.json with 17 significant digits).
suppressPackageStartupMessages(library(survey))

source("json_writer.R")
to_json <- json_writer(unbox = FALSE, matrix_rows = FALSE)

read <- function(name) {
  data <- read.csv(file.path("data", paste0(name, ".csv")))
  data$schwide <- as.numeric(data$sch.wide == "Yes")
  data
}
apipop <- read.csv(file.path("data", "apipop.csv"))
strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc,
                   data = read("apistrat"))
clus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = read("apiclus1"))
pop_cal <- c(`(Intercept)` = nrow(apipop), stypeH = sum(apipop$stype == "H"),
             stypeM = sum(apipop$stype == "M"), api99 = sum(apipop$api99))
designs <- list(
  strat = strat,
  clus1 = clus1,
  # the models' scores go through the calibration residuals / the replicate weights too
  strat_cal = calibrate(strat, ~stype + api99, pop_cal),
  clus1_jk1 = as.svrepdesign(clus1, type = "JK1"),
  clus2 = svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = read("apiclus2")),
  srs = svydesign(id = ~1, fpc = ~fpc, data = read("apisrs"))
)

coefs <- function(m) {
  s <- summary(m)$coefficients
  list(term = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]),
       t = unname(s[, 3]), p = unname(s[, 4]), df = m$df.residual)
}
chi <- function(test) {
  list(statistic = unname(test$statistic), parameter = unname(test$parameter),
       p_value = unname(test$p.value))
}

out <- list()
for (dname in names(designs)) {
  d <- designs[[dname]]
  res <- list()
  res$gaussian <- coefs(svyglm(api00 ~ ell + meals + mobility, d))
  res$gaussian_factor <- coefs(svyglm(api00 ~ ell + stype, d))
  res$gaussian_missing <- coefs(svyglm(api00 ~ acs.k3 + meals, d))
  # iterated to convergence: at glm's default epsilon (1e-8 on the deviance) the fit stops
  # about 1e-6 (relative) short of the solution
  res$binomial <- coefs(svyglm(schwide ~ ell + meals, d, family = quasibinomial(),
                               control = glm.control(epsilon = 1e-14, maxit = 100)))
  # a logical or two-level factor outcome models P(TRUE) / P(second level); iterated
  # until the deviance stops changing, because R's sandwich takes the working weights of
  # the last iteration, one step behind the coefficients (3e-8 off on clus1 at 1e-14)
  exact <- glm.control(epsilon = 1e-30, maxit = 100)
  res$binomial_logical <- coefs(svyglm(I(sch.wide == "Yes") ~ ell, d,
                                       family = quasibinomial(), control = exact))
  res$binomial_factor <- coefs(svyglm(factor(sch.wide) ~ ell, d, family = quasibinomial(),
                                      control = exact))
  res$gaussian_logical <- coefs(svyglm(I(sch.wide == "Yes") ~ ell, d))
  res$chisq_F <- chi(svychisq(~sch.wide + stype, d))
  res$chisq_Chisq <- chi(svychisq(~sch.wide + stype, d, statistic = "Chisq"))
  res$chisq_pearson <- unname(suppressWarnings(chisq.test(
    svytable(~sch.wide + stype, d, Ntotal = nrow(d$variables)), correct = FALSE))$statistic)
  res$chisq_awards_F <- chi(svychisq(~awards + stype, d))
  sub <- subset(d, stype %in% c("E", "H"))
  tt <- svyttest(api00 ~ I(stype == "H"), sub)
  ci <- tt$conf.int
  res$ttest <- list(estimate = unname(tt$estimate), t = unname(tt$statistic),
                    df = unname(tt$parameter), p_value = unname(tt$p.value),
                    ci_low = ci[1], ci_high = ci[2])
  out[[dname]] <- res
}

writeLines(to_json(out), "models.json")
cat(sprintf("wrote models.json (survey %s, R %s)\n", packageVersion("survey"), getRversion()))
