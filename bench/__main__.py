"""Run every benchmark: ``python -m bench [--quick] [--no-r]`` (what ``make bench`` calls).

Each benchmark prints its own figures; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys

from bench import survey_coverage, survey_speed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the skillsgap benchmarks.")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 200 coverage replications")
    parser.add_argument("--no-r", action="store_true", help="skip the R timing comparison")
    args = parser.parse_args(argv)
    speed_args = (["--quick"] if args.quick else []) + (["--no-r"] if args.no_r else [])
    status = survey_speed.main(speed_args)
    print()
    reps = ["--replications", "200"] if args.quick else ["--replicates", "100"]
    return status or survey_coverage.main(reps)


if __name__ == "__main__":
    sys.exit(main())
