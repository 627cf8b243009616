"""The `skillsgap` command line: one root group, each audience's commands beside it."""

from __future__ import annotations

import click

from questionnaires.cli import questionnaire_group


@click.group()
@click.version_option(package_name="skillsgap")
def main() -> None:
    """skillsgap: skills-needs surveys and weighted skills-gap estimates."""


main.add_command(questionnaire_group)

if __name__ == "__main__":
    main()
