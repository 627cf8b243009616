"""The dependency rule: ``analysis`` never imports Flask, SQLAlchemy or ``surveyapp``."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import analysis

FORBIDDEN = ("flask", "sqlalchemy", "surveyapp")


def _all_modules() -> list[str]:
    root = Path(analysis.__file__).parent
    names = ["analysis"]
    for info in pkgutil.walk_packages([str(root)], prefix="analysis."):
        names.append(info.name)
    return names


def test_every_analysis_module_is_found() -> None:
    modules = _all_modules()
    assert "analysis.survey" in modules
    assert "analysis.survey.design" in modules


def test_analysis_imports_no_web_or_database_package() -> None:
    modules = _all_modules()
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    # a fresh interpreter: nothing imported by pytest or other tests can hide a violation
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        cwd=Path(analysis.__file__).parent.parent,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    offending = [m for m in loaded if m.split(".")[0].lower() in FORBIDDEN]
    assert offending == []
