# The JSON writer of the reference scripts beside this file, sourced by each of them (they run
# from this folder). Every number is written with 17 significant digits, NA as null and an
# infinity as +-1e999; a factor as its labels, a logical as true/false.
#
# json_writer(unbox, matrix_rows) makes a script's to_json(). Each script keeps the layout its
# JSON has always had, which the Python tests read:
# * unbox = TRUE writes a vector of length one (not a matrix) as a bare value, unless it was
#   marked with arr(); unbox = FALSE writes every vector as an array;
# * matrix_rows = TRUE writes a matrix as the list of its rows; FALSE as one flat array of its
#   values, column by column.
num <- function(x) {
  ifelse(is.na(x), "null", ifelse(is.infinite(x), ifelse(x > 0, "1e999", "-1e999"),
                                  sprintf("%.17g", x)))
}
arr <- function(x) { attr(x, "as_array") <- TRUE; x }
json_writer <- function(unbox, matrix_rows) {
  to_json <- function(x) {
    if (is.null(x)) return("null")
    if (is.list(x)) {
      if (!is.null(names(x))) {
        items <- mapply(function(k, v) paste0("\"", k, "\": ", to_json(v)), names(x), x)
        return(paste0("{", paste(items, collapse = ", "), "}"))
      }
      return(paste0("[", paste(vapply(x, to_json, ""), collapse = ", "), "]"))
    }
    if (is.matrix(x) && matrix_rows) {
      rows <- vapply(seq_len(nrow(x)), function(i) to_json(as.vector(x[i, ])), "")
      return(paste0("[", paste(rows, collapse = ",\n"), "]"))
    }
    if (is.factor(x)) x <- as.character(x)
    if (is.character(x)) {
      s <- paste0("\"", x, "\"")
    } else if (is.logical(x)) {
      s <- ifelse(x, "true", "false")
    } else {
      s <- num(as.numeric(x))
    }
    if (unbox && length(x) == 1 && is.null(dim(x)) && is.null(attr(x, "as_array"))) return(s)
    paste0("[", paste(s, collapse = ", "), "]")
  }
  to_json
}
