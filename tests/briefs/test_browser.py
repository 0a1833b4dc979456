"""The brief journey in a real headless Chromium against the real app served by uvicorn
(with its worker): sign in, a form error beside its field, submit, wait, download."""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdf
import pytest
import uvicorn

from service.app import create_app
from service.auth.models import User
from service.config import Settings
from tests.briefs.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path("/tmp/relay-shots")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(settings: Settings, db: object) -> Iterator[str]:
    app = create_app(settings, run_worker=True, load_model=False)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1800",
    ):
        options.add_argument(argument)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def test_request_a_brief_in_the_browser(
    server: str, browser: object, make_user: Callable[..., User]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    SHOTS.mkdir(parents=True, exist_ok=True)
    make_user("ana@example.ph")
    driver.get(f"{server}/briefs/new")  # type: ignore[attr-defined]
    assert "/login" in driver.current_url  # type: ignore[attr-defined]
    driver.find_element(By.ID, "email").send_keys("ana@example.ph")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "merchant_name")))

    find = driver.find_element  # type: ignore[attr-defined]
    find(By.ID, "merchant_name").send_keys("Halo-Halo Hub")
    find(By.ID, "website").send_keys("halohalo.example.ph")
    find(By.ID, "industry").send_keys("desserts")
    Select(find(By.ID, "segment")).select_by_value("smb")
    find(By.ID, "monthly_volume_php").send_keys("400,000")
    find(By.ID, "average_ticket_php").send_keys("220")
    find(By.CSS_SELECTOR, "label[for=payment_methods-card]").click()
    find(By.CSS_SELECTOR, "label[for=payment_methods-gcash]").click()
    Select(find(By.ID, "integration_channel")).select_by_value("checkout")
    assert not find(By.ID, "platform_name").is_displayed()  # the script hides it for Checkout
    find(By.ID, "questions").send_keys("How long is the refund window for cards?")
    find(By.ID, "contact_email").send_keys("owner-at-halohalo")  # invalid
    driver.save_screenshot(str(SHOTS / "brief-form.png"))  # type: ignore[attr-defined]
    find(By.CSS_SELECTOR, "form.brief-form button[type=submit]").click()

    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "contact_email-error")))
    error = find(By.ID, "contact_email-error")
    assert "email address" in error.text
    field = find(By.ID, "contact_email")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("value") == "owner-at-halohalo"  # input kept
    assert find(By.ID, "merchant_name").get_attribute("value") == "Halo-Halo Hub"
    assert find(By.ID, "payment_methods-gcash").is_selected()
    # The message sits right below its field.
    assert 0 <= error.location["y"] - field.location["y"] < 80
    driver.save_screenshot(str(SHOTS / "brief-form-error.png"))  # type: ignore[attr-defined]

    field.clear()
    field.send_keys("owner@halohalo.example.ph")
    find(By.CSS_SELECTOR, "form.brief-form button[type=submit]").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "brief-status")))
    # The page reloads itself (Refresh header) until the worker has rendered the PDF.
    WebDriverWait(driver, 90).until(ec.presence_of_element_located((By.ID, "download-pdf")))
    assert find(By.ID, "brief-status").text == "ready"
    driver.save_screenshot(str(SHOTS / "brief-page.png"))  # type: ignore[attr-defined]

    find(By.ID, "download-pdf").click()
    downloads: Path = driver.downloads  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while not [p for p in downloads.glob("*.pdf")]:
        assert time.monotonic() < deadline, "the PDF was not downloaded"
        time.sleep(0.1)
    pdf = next(downloads.glob("*.pdf"))
    time.sleep(0.3)  # let Chromium finish writing
    reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
    assert "Halo-Halo Hub" in reader.pages[0].extract_text()
    shutil.copy(pdf, SHOTS / "brief.pdf")
