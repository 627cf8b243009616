# Reference values for the replicate-weight designs of analysis.survey (replicate.py).
#
# Builds JK1, JKn and bootstrap designs with as.svrepdesign() (compress = FALSE, R's default
# mse = FALSE), a design from supplied replicate weights with svrepdesign(), and replicate
# designs re-weighted with postStratify(), rake() and calibrate() (R re-weights every
# replicate), then writes every number the Python tests compare to replicate.json with 17
# significant digits. Run from this folder:  Rscript replicate.R
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail")

apiclus1 <- read.csv(file.path("data", "apiclus1.csv"), stringsAsFactors = TRUE)
apistrat <- read.csv(file.path("data", "apistrat.csv"), stringsAsFactors = TRUE)
apipop <- read.csv(file.path("data", "apipop.csv"), stringsAsFactors = TRUE)

source("json_writer.R")
to_json <- json_writer(unbox = TRUE, matrix_rows = TRUE)

# ---------------------------------------------------------------- estimator battery
diagonal <- function(x) if (is.matrix(x)) diag(x) else as.vector(x)
stat <- function(s) {
  list(estimate = unname(coef(s)[1]), se = unname(sqrt(diag(as.matrix(vcov(s))))[1]))
}
# df: the project's rule gives a domain the full design's degrees of freedom, so the
# domain calls below pass df = degf(design) (svyby would use the subset's degf)
prop <- function(des, df = degf(des)) {
  p <- svyciprop(~I(sch.wide == "Yes"), des, method = "logit", df = df)
  ci <- attr(p, "ci")
  list(estimate = unname(p[1]), se = sqrt(unname(attr(p, "var")[1])),
       ci_low = unname(ci[1]), ci_high = unname(ci[2]), df = df)
}
quant <- function(des, df = degf(des)) {
  q <- svyquantile(~api00, des, c(0.25, 0.5), ci = TRUE, df = df)$api00
  list(probs = arr(c(0.25, 0.5)), estimate = arr(unname(q[, 1])),
       ci_low = arr(unname(q[, 2])), ci_high = arr(unname(q[, 3])),
       se = arr(unname(q[, 4])), df = df)
}
overall <- function(des) {
  m <- svymean(~api00 + api99, des, deff = TRUE)
  t <- svytotal(~enroll, des, deff = TRUE)
  r <- svyratio(~api.stu, ~enroll, des)
  list(
    degf = degf(des),
    mean = list(variable = arr(c("api00", "api99")), estimate = arr(unname(coef(m))),
                se = arr(unname(SE(m))), deff = arr(unname(diagonal(deff(m))))),
    total = list(estimate = unname(coef(t)), se = unname(SE(t)),
                 deff = unname(deff(t))),
    ratio = list(estimate = unname(coef(r)), se = unname(SE(r))),
    proportion = prop(des),
    quantile = quant(des)
  )
}
by_stype <- function(des, data) {
  levels <- levels(data$stype)
  one <- function(lev) {
    sub <- des[data$stype == lev, ]
    m <- svymean(~api00, sub)
    t <- svytotal(~enroll, sub)
    r <- svyratio(~api.stu, ~enroll, sub)
    list(stype = lev, degf = degf(sub),
         mean = stat(m), total = stat(t), ratio = stat(r),
         proportion = prop(sub, degf(des)), quantile = quant(sub, degf(des)))
  }
  # svyby() evaluates each domain on the subset design exactly as one() does; check that
  # the two routes agree so the subset route may stand for svyby.
  sb <- svyby(~api00, ~stype, des, svymean)
  stopifnot(isTRUE(all.equal(unname(coef(sb)),
                             unname(vapply(levels, function(l) one(l)$mean$estimate, 0)))))
  lapply(levels, one)
}
models <- function(des) {
  g <- svyglm(api00 ~ ell + meals + stype, des)
  b <- svyglm(I(sch.wide == "Yes") ~ ell, des, family = quasibinomial)
  x <- svychisq(~sch.wide + stype, des)
  coefs <- function(m) {
    cf <- summary(m)$coefficients
    list(term = arr(rownames(cf)), estimate = arr(unname(cf[, 1])),
         se = arr(unname(cf[, 2])), df_residual = m$df.residual)
  }
  list(gaussian = coefs(g), binomial = coefs(b),
       chisq = list(statistic = unname(x$statistic), ndf = unname(x$parameter[1]),
                    ddf = unname(x$parameter[2]), p_value = unname(x$p.value)))
}
battery <- function(des, data) {
  list(overall = overall(des), by_stype = by_stype(des, data), models = models(des))
}
repinfo <- function(des, full = FALSE) {
  w <- weights(des, "analysis")
out <- list(scale = des$scale, rscales = arr(des$rscales), mse = des$mse,
              degf = degf(des), n_replicates = ncol(w),
              colsums = arr(colSums(w)),
              replicate_totals_enroll = arr(as.vector(
                svytotal(~enroll, des, return.replicates = TRUE)$replicates)),
              weights = arr(weights(des, "sampling")))
  if (full) out$repweights <- w
  out
}

# ---------------------------------------------------------------- designs
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
dclus1_nofpc <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
dstrat_nofpc <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)

jk1 <- as.svrepdesign(dclus1, type = "JK1", compress = FALSE)
jk1_nofpc <- as.svrepdesign(dclus1_nofpc, type = "JK1", compress = FALSE)
jkn <- as.svrepdesign(dstrat, type = "JKn", compress = FALSE)
jkn_nofpc <- as.svrepdesign(dstrat_nofpc, type = "JKn", compress = FALSE)
set.seed(20261125)
boot <- as.svrepdesign(dstrat_nofpc, type = "bootstrap", replicates = 50, compress = FALSE)
boot_clus1 <- as.svrepdesign(dclus1_nofpc, type = "bootstrap", replicates = 40,
                             compress = FALSE)

# Supplied (combined) replicate weights, as svrepdesign() takes them: the bootstrap weights
# above with R's defaults for type = "bootstrap", and the JKn weights with mse = TRUE.
supplied_boot <- svrepdesign(data = apistrat, repweights = weights(boot, "analysis"),
                             weights = ~pw, type = "bootstrap", combined.weights = TRUE)
supplied_mse <- svrepdesign(data = apistrat, repweights = weights(jkn, "analysis"),
                            weights = ~pw, type = "JKn", combined.weights = TRUE,
                            rscales = jkn$rscales, scale = 1, mse = TRUE)

# Re-weighted replicate designs: every replicate is re-weighted too.
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_schwide <- as.data.frame(table(sch.wide = apipop$sch.wide))
post_jk1 <- postStratify(jk1, ~stype, pop_stype)
rake_jkn <- rake(jkn, list(~stype, ~sch.wide), list(pop_stype, pop_schwide),
                 control = list(maxit = 500, epsilon = 1e-12))
cal_targets_lin <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018,
                     api99 = sum(apipop$api99))
cal_lin_jk1 <- calibrate(jk1, ~stype + api99, cal_targets_lin, compress = FALSE)
cal_targets_rak <- c(`(Intercept)` = 6194, sch.wideYes = sum(apipop$sch.wide == "Yes"),
                     api99 = sum(apipop$api99))
cal_rak_jkn <- calibrate(jkn, ~sch.wide + api99, cal_targets_rak, calfun = "raking",
                         epsilon = 1e-13, maxit = 100, compress = FALSE)

# A stratum with a single PSU (one high school kept): the lonely-PSU rules of jknweights().
first_high <- apistrat$snum[apistrat$stype == "H"][1]
lonely_data <- apistrat[apistrat$stype != "H" | apistrat$snum == first_high, ]
lonely <- lapply(c("adjust", "average", "remove", "certainty"), function(rule) {
  options(survey.lonely.psu = rule)
  des <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = lonely_data)
  rep <- as.svrepdesign(des, type = "JKn")  # compressed: R 4.1.1 mis-builds "adjust" uncompressed
  m <- svymean(~api00, rep)
  c(repinfo(rep), list(rule = rule, mean = stat(m)))
})
names(lonely) <- c("adjust", "average", "remove", "certainty")
options(survey.lonely.psu = "fail")

out <- list(
  meta = list(survey = as.character(packageVersion("survey")),
              R = as.character(getRversion()),
              pop_stype = list(E = 4421, H = 755, M = 1018),
              pop_schwide = list(No = pop_schwide$Freq[pop_schwide$sch.wide == "No"],
                                 Yes = pop_schwide$Freq[pop_schwide$sch.wide == "Yes"]),
              cal_targets_linear = as.list(cal_targets_lin),
              cal_targets_raking = as.list(cal_targets_rak)),
  jk1_clus1 = c(repinfo(jk1, full = TRUE), battery(jk1, apiclus1)),
  jk1_clus1_nofpc = repinfo(jk1_nofpc),
  jkn_strat = c(repinfo(jkn), battery(jkn, apistrat)),
  jkn_strat_nofpc = repinfo(jkn_nofpc),
  boot_strat = c(repinfo(boot, full = TRUE), battery(boot, apistrat)),
  boot_clus1 = repinfo(boot_clus1, full = TRUE),
  supplied_boot = c(repinfo(supplied_boot), battery(supplied_boot, apistrat)),
  supplied_mse = c(repinfo(supplied_mse), battery(supplied_mse, apistrat)),
  post_jk1 = c(repinfo(post_jk1), battery(post_jk1, apiclus1)),
  rake_jkn = c(repinfo(rake_jkn), battery(rake_jkn, apistrat)),
  cal_linear_jk1 = c(repinfo(cal_lin_jk1), battery(cal_lin_jk1, apiclus1)),
  cal_raking_jkn = c(repinfo(cal_rak_jkn), battery(cal_rak_jkn, apistrat)),
  lonely_jkn = lonely
)
writeLines(to_json(out), "replicate.json")
cat(sprintf("survey %s, R %s: replicate.json written\n", packageVersion("survey"),
            getRversion()))
