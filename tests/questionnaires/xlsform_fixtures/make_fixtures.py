"""Build the XLSForm fixtures of the importer's tests: `python make_fixtures.py` in this folder.

Each workbook is small and covers one concern: `mapped.xlsx` every construct the importer maps,
`older_kobo.xlsx` the older spellings (`label:English`, `select one from`), `plain_label.xlsx`
a form without language columns or settings, `unsupported.xlsx` rows that cannot be mapped,
`kobo_export.xlsx` a form as KoboToolbox exports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook

HERE = Path(__file__).parent

Rows = list[list[Any]]


def write_workbook(path: Path, sheets: dict[str, Rows]) -> Path:
    """Write one sheet per entry (first row = header) to ``path``."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


EN, DE = "label::English (en)", "label::Deutsch (de)"

MAPPED: dict[str, Rows] = {
    "Survey": [
        ["Type", "Name", EN, DE, "hint::English (en)", "hint::Deutsch (de)", "Required",
         "Relevant", "Constraint", "constraint_message::English (en)",
         "constraint_message::Deutsch (de)", "Appearance", "Calculation", "Choice_Filter"],
        ["begin group", "profile", "Company profile", "Unternehmensprofil",
         "About your company.", "Über Ihr Unternehmen.", None, None, None, None, None,
         "field-list", None, None],
        ["select_one countries", "country", "Country?", "Land?", None, None, "yes", None, None,
         None, None, "minimal", None, None],
        ["select_one regions", "region", "Region?", "Region?", None, None, None, None, None,
         None, None, None, None, "country=${country}"],
        ["integer", "employees", "Persons employed?", "Beschäftigte?", None, None, "TRUE()",
         None, ". >= 1 and . <= 1000000", "Between 1 and 1,000,000.",
         "Zwischen 1 und 1.000.000.", None, None, None],
        ["calculate", "size_class", None, None, None, None, None, None, None, None, None, None,
         "if(${employees} < 50, 'small', 'large')", None],
        ["end group", None, None, None, None, None, None, None, None, None, None, None, None,
         None],
        ["begin group", "training", "Training", "Weiterbildung", None, None, None,
         "${employees} > 0", None, None, None, None, None, None],
        ["select_multiple barriers or_other", "barriers", "Barriers?", "Hindernisse?",
         "Tick all that apply.", "Alles Zutreffende ankreuzen.", None, None,
         "count-selected(.) <= 3", "At most three.", "Höchstens drei.", None, None, None],
        ["text", "barriers_other", "Which other barrier?", "Welches andere Hindernis?", None,
         None, None, "selected(${barriers}, 'other')", None, None, None, None, None, None],
        ["begin group", "details", "Details", "Einzelheiten", None, None, None,
         "selected(${barriers}, 'Time')", None, None, None, None, None, None],
        ["decimal", "lost_days", "Days lost?", "Verlorene Tage?", None, None, None,
         "${employees} div 10 > 1", ". <= 365", "At most 365.", "Höchstens 365.", None,
         None, None],
        ["end group", None, None, None, None, None, None, None, None, None, None, None, None,
         None],
        ["text", "comments", "Comments?", "Anmerkungen?", None, None, None,
         "${region} != ''", None, None, None, "multiline", None, None],
        ["note", "thanks", "Thank you.", "Danke.", None, None, None, None, None, None, None,
         None, None, None],
        ["end group", None, None, None, None, None, None, None, None, None, None, None, None,
         None],
        ["select one from yes_no", "plans", "Training plan?", "Weiterbildungsplan?", None, None,
         "no", "not(${country} = 'FR')", None, None, None, None, None, None],
        ["integer", "Staff-Count", "Staff trained?", "Geschulte Beschäftigte?", None, None,
         "${plans} = 'yes'", None, None, None, None, None, None, None],
    ],
    "choices": [
        ["list_name", "name", EN, DE, "Country"],
        ["countries", "DE", "Germany", "Deutschland", None],
        ["countries", "FR", "France", "Frankreich", None],
        ["regions", "DE11", "Stuttgart", "Stuttgart", "DE"],
        ["regions", "FRK2", "Rhône-Alpes", "Rhône-Alpes", "FR"],
        ["barriers", "cost", "Cost", "Kosten", None],
        ["barriers", "Time", "Time", "Zeit", None],
        ["yes_no", "yes", "Yes", "Ja", None],
        ["yes_no", "no", "No", "Nein", None],
    ],
    "settings": [
        ["form_id", "form_title", "version", "default_language"],
        ["mini_xls", "Mini XLSForm", "2024.1", "English (en)"],
    ],
}

OLDER_KOBO: dict[str, Rows] = {
    "survey": [
        ["type", "name", "label:English", "label:Français", "required"],
        ["select one from yes_no or specify other", "trains", "Do you train?",
         "Formez-vous ?", "true"],
        ["integer", "apprentices", "Apprentices?", "Apprentis ?", "false"],
    ],
    "choices": [
        ["list name", "name", "label:English", "label:Français"],
        ["yes_no", "yes", "Yes", "Oui"],
        ["yes_no", "no", "No", "Non"],
    ],
    "settings": [
        ["form_title", "form_id", "default_language"],
        ["Older form", "older", "English"],
    ],
}

PLAIN_LABEL: dict[str, Rows] = {
    "survey": [
        ["type", "name", "label", "hint"],
        ["text", "company", "Company name?", "As registered."],
        ["note", "bye", "Thanks!", None],
    ],
}

UNSUPPORTED: dict[str, Rows] = {
    "survey": [
        ["type", "name", "label", "relevant", "constraint"],
        ["start", "start", None, None, None],
        ["text", "site", "Site name?", None, None],
        ["geopoint", "location", "Where is the site?", None, None],
        ["integer", "altitude", "Altitude?", "${location} != ''", None],
        ["begin repeat", "plants", "Plants", None, None],
        ["text", "plant_name", "Plant name?", None, None],
        ["end repeat", None, None, None, None],
        ["image", "photo", "Photo?", None, None],
        ["text", "code", "Code?", None, "regex(., '^[A-Z]+$')"],
        ["date", "founded", "Founded?", None, None],
    ],
    "settings": [["form_id", "version"], ["unsupported", "1"]],
}

# A form as KoboToolbox exports it: metadata rows, `$kuid` bookkeeping columns, `id_string`,
# booleans typed as Excel TRUE, a list with its own 'other' choice.
KOBO_EXPORT: dict[str, Rows] = {
    "survey": [
        ["type", "name", "label::English (en)", "label::Français (fr)", "required",
         "relevant", "appearance", "$kuid", "$autoname"],
        ["start", "start", None, None, None, None, None, "a1", "start"],
        ["end", "end", None, None, None, None, None, "a2", "end"],
        ["today", "today", None, None, None, None, None, "a3", "today"],
        ["deviceid", "deviceid", None, None, None, None, None, "a4", "deviceid"],
        ["begin_group", "company", "Company", "Entreprise", None, None, "field-list", "a5",
         "company"],
        ["select_one yn or_other", "trains", "Do you train staff?",
         "Formez-vous le personnel ?", True, None, "horizontal", "a6", "trains"],
        ["select_multiple topics or_other", "topics", "Topics?", "Thèmes ?", False,
         "${trains} = 'yes'", None, "a7", "topics"],
        ["integer", "2024_staff", "Staff in 2024?", "Effectif 2024 ?", None, None, None, "a8",
         "2024_staff"],
        ["end_group", None, None, None, None, None, None, "a9", None],
    ],
    "choices": [
        ["list_name", "name", "label::English (en)", "label::Français (fr)", "$kuid"],
        ["yn", "yes", "Yes", "Oui", "c1"],
        ["yn", "no", "No", "Non", "c2"],
        ["topics", "ev", "Electric vehicles", "Véhicules électriques", "c3"],
        ["topics", "other", "Other", "Autre", "c4"],
        ["unused", "x", "X", "X", "c5"],
    ],
    "settings": [
        ["id_string", "form_title", "version", "default_language", "style"],
        ["aBc123XyZ", "Kobo form", "1 (2024-05-01 10:00:00)", "English (en)", "pages"],
    ],
}

FIXTURES = {
    "mapped.xlsx": MAPPED,
    "older_kobo.xlsx": OLDER_KOBO,
    "plain_label.xlsx": PLAIN_LABEL,
    "unsupported.xlsx": UNSUPPORTED,
    "kobo_export.xlsx": KOBO_EXPORT,
}


def main() -> None:
    """Write every fixture workbook next to this script."""
    for name, sheets in FIXTURES.items():
        write_workbook(HERE / name, sheets)


if __name__ == "__main__":
    main()
