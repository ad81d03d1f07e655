"""The portal in a real headless Chromium (Debian's, via Playwright): fill, submit, read the decision;
submit a wrong-unit value, read the field's error next to it.

Chromium comes from `bash tests/serving/setup_browser.sh` (apt-get); never `playwright install`.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditrisk.applicants.schema import BANK_SUPPLIED, CATEGORIES, EXAMPLE_APPLICANT, SOURCES
from serving.api_models import PREDICT_EXAMPLES

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium missing: run `bash tests/serving/setup_browser.sh` (`make test` does)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS)
        try:
            yield context
        finally:
            context.close()


def offline_page(browser_context: Any, served) -> tuple[Any, list[str], list[str]]:
    """A page that may reach only the service (any other request is aborted, as offline), and the
    lists of requests it tried elsewhere and of Content-Security-Policy violations it reported."""
    page, elsewhere, violations = browser_context.new_page(), [], []
    page.set_default_timeout(15_000)

    def only_the_service(route: Any) -> None:
        if route.request.url.startswith(served.base_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_the_service)
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return page, elsewhere, violations


@pytest.fixture
def page(browser_context: Any, served) -> Iterator[Any]:
    page, elsewhere, violations = offline_page(browser_context, served)
    page.goto(f"{served.base_url}/")
    page.wait_for_selector("body[data-ready='true']")
    yield page
    assert (elsewhere, violations) == ([], [])  # the portal works offline, under the policy
    page.close()


def fill(page: Any, applicant: dict[str, Any]) -> None:
    for name, value in applicant.items():
        if SOURCES.get(name) == "server":  # computed by the server: the form does not ask for it
            continue
        if name in CATEGORIES:
            page.select_option(f"#f-{name}", str(value))
        else:
            page.fill(f"#f-{name}", str(value))


@pytest.mark.parametrize("case", ["approved", "denied"])
def test_fill_submit_and_read_the_decision(page: Any, client: httpx.Client, case: str) -> None:
    applicant = PREDICT_EXAMPLES[case]["value"]
    expected = client.post("/predict", json=applicant).json()
    fill(page, applicant)
    page.click("#submit")
    decision = page.wait_for_selector("#decision")
    assert decision.get_attribute("data-decision") == expected["decision"] == (
        "denied" if case == "denied" else "pre-approved")
    assert decision.inner_text() == ("Denied" if case == "denied" else "Pre-approved")
    assert page.locator("#probability").count() == 0  # an anonymous answer has no score to show
    reasons = page.locator("#reasons li").all_inner_texts()
    assert reasons == [r["text"] for r in expected["reasons"]]
    assert (len(reasons) > 0) == (case == "denied") and len(reasons) <= 4
    assert not [t for t in reasons if "_" in t]  # the applicant's words, never a field name


def test_the_form_says_which_fields_the_bank_supplies_and_never_asks_for_the_ratio(page: Any) -> None:
    assert page.locator("#f-loan_percent_income").count() == 0
    bank = page.locator("#bank-fields")
    assert bank.locator("legend").inner_text() == "From the bank's systems"
    assert "credit bureau" in page.inner_text("#bank-note") and "must never" in page.inner_text("#bank-note")
    assert sorted(bank.locator("[data-field]").evaluate_all("els => els.map(e => e.dataset.field)")) == \
        sorted(BANK_SUPPLIED)
    assert "From the bank: the rate the bank's pricing offers" in page.inner_text("#h-loan_int_rate")
    assert page.locator("#fields #f-loan_grade").count() == 0  # not among the applicant's own fields


def test_a_wrong_unit_shows_the_rule_next_to_the_field(page: Any) -> None:
    fill(page, {**EXAMPLE_APPLICANT, "person_income": 59})
    assert "warn" in (page.get_attribute("#h-person_income", "class") or "")  # the client-side hint
    page.click("#submit")
    error = page.wait_for_selector("#e-person_income:not(:empty)")
    assert "not 59 thousand" in error.inner_text()
    assert page.get_attribute("#f-person_income", "aria-invalid") == "true"
    assert page.is_hidden("#result")
    page.fill("#f-person_income", "59000")  # editing the field clears its error
    assert page.inner_text("#e-person_income") == ""


def test_missing_fields_are_named_next_to_each_field(page: Any) -> None:
    fill(page, {k: v for k, v in EXAMPLE_APPLICANT.items() if k not in ("loan_grade", "loan_amnt")})
    page.click("#submit")
    page.wait_for_selector("#e-loan_grade:not(:empty)")
    assert page.inner_text("#e-loan_amnt") and page.get_attribute("#f-loan_grade", "aria-invalid") == "true"


def test_docs_render_every_operation_offline_under_the_policy(browser_context: Any, served,
                                                              client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    operations = sum(1 for item in spec["paths"].values() for method in item if method != "parameters")
    page, elsewhere, violations = offline_page(browser_context, served)
    page.goto(f"{served.base_url}/docs")
    page.wait_for_selector(".opblock-summary", timeout=20_000)
    assert page.locator(".opblock").count() == operations == 5
    assert page.locator(".btn.authorize").count() == 1  # the bearer token's box, from this origin only
    assert (elsewhere, violations) == ([], [])
    page.close()
