# Speed job (b) in R's survey package: a JKn replicate design (one replicate per PSU), every
# replicate re-raked, then 50 means in 30 domains with replicate variance.
# Usage: Rscript speed_replicate.R data.csv margins.csv variables.txt
# Prints one line "SECONDS <elapsed>" (the work after reading the files).
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
source(file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(), value = TRUE))),
                 "speed_common.R"))
job <- read_job(args)
t0 <- proc.time()[["elapsed"]]
d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = job$data, nest = TRUE)
r <- as.svrepdesign(d, type = "JKn", compress = FALSE)
r <- calibrate(r, job$formula, job$population, calfun = "raking", maxit = 100,
               epsilon = 1e-10, compress = FALSE)
est <- svyby(job$means, ~region + size_class, r, svymean)
elapsed <- proc.time()[["elapsed"]] - t0
stopifnot(nrow(est) == job$n_domains)
cat(sprintf("SECONDS %.3f\n", elapsed))
