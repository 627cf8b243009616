# Speed job (a) in R's survey package: raking calibration of a stratified cluster design,
# then 50 means in 30 domains with linearisation variance (calibration residuals included).
# Usage: Rscript speed_taylor.R data.csv margins.csv variables.txt
# Prints one line "SECONDS <elapsed>" (the work after reading the files).
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
source(file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(), value = TRUE))),
                 "speed_common.R"))
job <- read_job(args)
t0 <- proc.time()[["elapsed"]]
d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = job$data, nest = TRUE)
d <- calibrate(d, job$formula, job$population, calfun = "raking", maxit = 100,
               epsilon = 1e-10)
est <- svyby(job$means, ~region + size_class, d, svymean)
elapsed <- proc.time()[["elapsed"]] - t0
stopifnot(nrow(est) == job$n_domains)
cat(sprintf("SECONDS %.3f\n", elapsed))
