# Export the `api` data sets shipped with R's survey package to CSV, the common input of the
# reference scripts beside this file and of the Python tests that compare against them.
# Run from this folder: Rscript export_api.R
suppressPackageStartupMessages(library(survey))
data(api)
sets <- list(apistrat = apistrat, apiclus1 = apiclus1, apiclus2 = apiclus2,
             apisrs = apisrs, apipop = apipop)
for (name in names(sets)) {
  write.csv(sets[[name]], file.path("data", paste0(name, ".csv")), row.names = FALSE,
            na = "")
}
cat(sprintf("survey %s, R %s\n", packageVersion("survey"), getRversion()))
