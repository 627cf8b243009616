"""axe-core audits of pages, collected so that one failure reports every page at fault."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}


class AxeAudit:
    """Runs axe-core on pages and keeps every violation, so one run reports all pages."""

    def __init__(self) -> None:
        self.axe = Axe()
        self.checked: list[str] = []
        self.reports: dict[str, str] = {}

    def check(self, page: Page, page_type: str) -> None:
        """Audit the page shown now under the name ``page_type``."""
        results = self.axe.run(page, options=AXE_OPTIONS)
        self.checked.append(page_type)
        if results.violations_count:
            self.reports[page_type] = f"{page.url}\n{results.generate_report()}"

    def assert_clean(self) -> None:
        """Fail with the axe report of every page that has violations."""
        assert not self.reports, "\n\n".join(
            f"== {page_type}: {report}" for page_type, report in self.reports.items()
        )
