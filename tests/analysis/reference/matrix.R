# Reference values of the agreement matrix (tests/analysis/test_agreement_matrix.py):
# every design x weighting x estimator, overall and by `awards`, from R's survey package.
# Run from this folder: Rscript matrix.R (writes matrix.json, numbers only, 17 significant
# digits, and data/apistrat_boot.csv, the bootstrap replicate weights that the Python test
# feeds into ReplicateDesign).
#
# Layout of matrix.json: design -> weighting -> {"df": degf, estimator -> {"overall": row,
# "awards": [row for "No", row for "Yes"]}}, row = [estimate, se, ci_low, ci_high, deff]
# (deff null where R gives none; for a proportion, the deff of the indicator's svymean).
# Conventions matched by analysis.survey:
# * every interval uses the full design's degrees of freedom, df = degf(design), also in
#   domains (svyby would give svyciprop and svyquantile each subset's degf);
# * proportion: svyciprop(method = "logit"), its se the one svyciprop reports;
# * quantile: svyquantile(0.5, ci = TRUE), R's default qrule "math" and Woodruff interval.
suppressPackageStartupMessages(library(survey))
source("json_writer.R")
to_json <- json_writer(unbox = TRUE, matrix_rows = FALSE)
options(survey.lonely.psu = "fail")

read <- function(name) read.csv(file.path("data", paste0(name, ".csv")))
apistrat <- read("apistrat")
apiclus1 <- read("apiclus1")
apiclus2 <- read("apiclus2")
apipop <- read("apipop")

strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
clus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
set.seed(20201110)
boot <- as.svrepdesign(strat, type = "bootstrap", replicates = 20)
boot_weights <- weights(boot, "analysis")
colnames(boot_weights) <- paste0("boot", seq_len(ncol(boot_weights)))
write.csv(data.frame(boot_weights), file.path("data", "apistrat_boot.csv"),
          row.names = FALSE)
boot_weights <- as.matrix(read.csv(file.path("data", "apistrat_boot.csv")))
designs <- list(
  strat = strat,
  clus1 = clus1,
  clus2 = svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2),
  strat_jkn = as.svrepdesign(strat, type = "JKn"),
  clus1_jk1 = as.svrepdesign(clus1, type = "JK1"),
  # R's own bootstrap replicates, as written to CSV (what the Python side reads)
  strat_boot = svrepdesign(data = apistrat, weights = ~pw, repweights = boot_weights,
                           combined.weights = TRUE, type = "bootstrap",
                           scale = boot$scale, rscales = boot$rscales)
)

pop_stype <- as.data.frame(table(stype = apipop$stype))
pop_schwide <- as.data.frame(table(sch.wide = apipop$sch.wide))
pop_cal <- c(`(Intercept)` = nrow(apipop), stypeH = sum(apipop$stype == "H"),
             stypeM = sum(apipop$stype == "M"), api99 = sum(apipop$api99))
weightings <- list(
  none = function(d) d,
  poststratify = function(d) postStratify(d, ~stype, pop_stype),
  rake = function(d) rake(d, list(~stype, ~sch.wide), list(pop_stype, pop_schwide),
                          control = list(maxit = 1000, epsilon = 1e-10)),
  # compress = FALSE: calibrate()'s default (NA) fails on replicate weights given as a
  # plain matrix (svrepdesign(repweights = <matrix>)); it changes storage, not numbers
  linear = function(d) calibrate(d, ~stype + api99, pop_cal, compress = FALSE),
  raking = function(d) calibrate(d, ~stype + api99, pop_cal, calfun = "raking",
                                 epsilon = 1e-12, compress = FALSE),
  logit = function(d) calibrate(d, ~stype + api99, pop_cal, calfun = "logit",
                                bounds = c(0.4, 2.5), epsilon = 1e-12, compress = FALSE),
  # trimming the linearly calibrated weights to 0.6 and 1.4 times their mean; not on
  # replicate designs, where trimWeights (survey 4.1.1) sets the full-sample weights back
  # to the untrimmed ones and mis-shares the replicates' trimmings: no reference there
  trim = function(d) {
    if (inherits(d, "svyrep.design")) stop("trimWeights is wrong on replicate designs")
    cal <- calibrate(d, ~stype + api99, pop_cal)
    trimWeights(cal, lower = 0.6 * mean(weights(cal)), upper = 1.4 * mean(weights(cal)))
  }
)

deff_of <- function(s) if (is.null(attr(s, "deff"))) NA else unname(diag(as.matrix(deff(s))))
row <- function(est, se, ci, deff) c(est, se, ci[1], ci[2], deff)
estimators <- list(
  mean = function(d, df) {
    s <- svymean(~api00, d, deff = TRUE, na.rm = TRUE)
    row(coef(s), SE(s), confint(s, df = df), deff_of(s))
  },
  total = function(d, df) {
    s <- svytotal(~enroll, d, deff = TRUE, na.rm = TRUE)
    row(coef(s), SE(s), confint(s, df = df), deff_of(s))
  },
  proportion = function(d, df) {
    s <- svyciprop(~I(sch.wide == "Yes"), d, method = "logit", df = df)
    # svyciprop gives no deff: the engine's is that of the indicator's mean
    m <- svymean(~as.numeric(sch.wide == "Yes"), d, deff = TRUE)
    row(s[1], sqrt(attr(s, "var")[1]), attr(s, "ci"), deff_of(m))
  },
  ratio = function(d, df) {
    # svyratio(deff = TRUE) stops with an error on replicate designs (survey 4.1.1)
    s <- svyratio(~api00, ~api99, d, deff = !inherits(d, "svyrep.design"), na.rm = TRUE)
    row(coef(s), SE(s), confint(s, df = df), deff_of(s))
  },
  quantile = function(d, df) {
    s <- svyquantile(~api00, d, 0.5, ci = TRUE, df = df, na.rm = TRUE)$api00
    row(s[1, 1], s[1, 4], s[1, 2:3], NA)
  }
)

# a domain as svyby builds it: the subset of the (weighted) design, never of the data
cell <- function(d) {
  df <- degf(d)
  out <- list(df = df)
  for (e in names(estimators)) {
    f <- estimators[[e]]
    out[[e]] <- tryCatch(
      list(overall = f(d, df),
           awards = lapply(c("No", "Yes"), function(l) f(subset(d, awards == l), df))),
      error = function(err) {
        message(e, " on ", deparse(substitute(d)), ": ", conditionMessage(err)); NULL
      })
  }
  out
}

out <- list(boot = list(scale = boot$scale, rscales = boot$rscales))
for (dname in names(designs)) {
  out[[dname]] <- list()
  for (wname in names(weightings)) {
    # a weighting that fails, or warns (a replicate that does not converge keeps its
    # unconverged weights in R), leaves its cell out; none does with these settings
    weighted <- tryCatch(weightings[[wname]](designs[[dname]]), condition = function(e) {
      message(dname, "/", wname, ": ", conditionMessage(e)); NULL
    })
    if (!is.null(weighted)) out[[dname]][[wname]] <- cell(weighted)
  }
}
writeLines(to_json(out), "matrix.json")
cat(sprintf("wrote matrix.json (survey %s, R %s)\n", packageVersion("survey"), getRversion()))
