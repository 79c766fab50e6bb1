"""The explorer in a real browser (Debian's chromium through chromedriver and Selenium): moving a
latent slider changes the decoded image, an upload shows its reconstruction, an attribute slider
of a labelled run edits the point, a clicked sample becomes the point, and a cvae's class control
redraws the point and the samples with the class chosen."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import replace

import pytest
from PIL import Image

from vaekit.commands import train

from conftest import tiny_run_config

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from vaekit.serve.app import Server, allowed_hosts, make_app  # noqa: E402
from vaekit.serve.explorer import Explorer  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER) and os.environ.get("VAEKIT_REQUIRE_BROWSER") == "1":  # CI installs them: never skip there
    raise RuntimeError("VAEKIT_REQUIRE_BROWSER=1 but chromium or chromedriver is not on PATH (apt-get install chromium chromium-driver)")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)"
)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@contextmanager
def opened(run_dir):
    """The explorer's page on ``run_dir``, loaded and ready; the Selenium driver."""
    with Server(make_app(Explorer(run_dir, map_examples=200), allowed_hosts("127.0.0.1"))) as url:
        driver = browser()
        try:
            driver.get(url + "/")
            WebDriverWait(driver, 60).until(
                lambda d: d.find_element(By.ID, "status").text in ("ready",) or "could not" in d.find_element(By.ID, "status").text
            )
            assert driver.find_element(By.ID, "status").text == "ready"
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page of a small labelled digits VAE, loaded and ready; the Selenium driver."""
    run_dir = tmp_path_factory.mktemp("browser") / "digits"
    train(tiny_run_config(epochs=2), run_dir, images=False)
    with opened(run_dir) as driver:
        yield driver


def current(driver) -> str:
    return driver.find_element(By.ID, "current").get_attribute("src")


def changes(driver, before: str) -> None:
    WebDriverWait(driver, 30).until(lambda d: current(d) != before and current(d).startswith("data:image/png"))


def test_moving_a_latent_slider_changes_the_decoded_image(page):
    before = current(page)
    slider = page.find_elements(By.CSS_SELECTOR, ".dim-slider")[0]
    ActionChains(page).drag_and_drop_by_offset(slider, slider.size["width"] // 3, 0).perform()
    changes(page, before)


def test_an_attribute_slider_edits_the_point(page):
    before = current(page)
    slider = page.find_element(By.CSS_SELECTOR, ".attr-slider[data-name='label=3']")
    ActionChains(page).drag_and_drop_by_offset(slider, slider.size["width"] // 3, 0).perform()
    changes(page, before)


def test_an_upload_shows_its_reconstruction(page, tmp_path):
    path = tmp_path / "digit.png"
    image = Image.new("L", (32, 32), 0)
    image.paste(255, (12, 4, 20, 28))  # a bar: something like a one
    image.save(path)
    before = current(page)
    page.find_element(By.ID, "upload").send_keys(str(path))
    WebDriverWait(page, 30).until(lambda d: d.find_element(By.ID, "input-figure").is_displayed())
    changes(page, before)
    assert page.find_element(By.ID, "upload-input").get_attribute("src").startswith("data:image/png")


def test_a_clicked_sample_becomes_the_current_point(page):
    samples = page.find_elements(By.CSS_SELECTOR, "#samples img.sample")
    assert len(samples) == 16
    before = current(page)
    samples[5].click()
    WebDriverWait(page, 30).until(lambda d: current(d) == samples[5].get_attribute("src"))
    assert current(page) != before


def test_a_cvae_s_class_control_redraws_the_point_and_the_samples(tmp_path):
    config = tiny_run_config(epochs=2)
    train(replace(config, model=replace(config.model, kind="cvae")), tmp_path / "cvae", images=False)
    with opened(tmp_path / "cvae") as driver:
        choice = Select(driver.find_element(By.ID, "condition-class"))
        assert driver.find_element(By.ID, "condition-panel").is_displayed() and len(choice.options) == 10
        first = driver.find_element(By.CSS_SELECTOR, "#samples img.sample").get_attribute("src")
        before = current(driver)
        choice.select_by_value("0" if choice.first_selected_option.get_attribute("value") != "0" else "1")
        changes(driver, before)
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#samples img.sample").get_attribute("src") != first)
        assert "could not" not in driver.find_element(By.ID, "status").text and "error" not in driver.find_element(
            By.ID, "status"
        ).get_attribute("class")
