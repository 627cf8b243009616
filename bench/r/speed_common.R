# Shared by the speed jobs: read the data, the raking margins and the variable list that
# bench/survey_speed.py wrote, and turn the margins into calibrate()'s population vector.
read_job <- function(args) {
  data <- read.csv(args[[1]], stringsAsFactors = TRUE)
  margins <- read.csv(args[[2]], stringsAsFactors = FALSE)
  variables <- readLines(args[[3]])
  margin_vars <- unique(margins$variable)
  for (v in margin_vars) {
    data[[v]] <- factor(as.character(data[[v]]),
                        levels = margins$level[margins$variable == v])
  }
  formula <- as.formula(paste("~", paste(margin_vars, collapse = " + ")))
  # Treatment contrasts: the intercept is the population size, then every level but the
  # first of each margin.
  first <- margins$variable[1]
  population <- c(`(Intercept)` = sum(margins$total[margins$variable == first]))
  for (v in margin_vars) {
    m <- margins[margins$variable == v, ]
    population <- c(population, setNames(m$total[-1], paste0(v, m$level[-1])))
  }
  list(data = data, formula = formula, population = population,
       means = as.formula(paste("~", paste(variables, collapse = " + "))),
       n_domains = length(unique(interaction(data$region, data$size_class, drop = TRUE))))
}
