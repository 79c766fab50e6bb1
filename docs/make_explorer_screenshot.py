"""The README's screenshot of the latent explorer, taken by the browser the tests drive (Chromium
through Selenium): the page on a run, with the first test face as A and a sample as B, a test face edited along an
attribute and the map hovered.

    vaekit train --preset faces-vae --out runs/faces-vae
    python docs/make_explorer_screenshot.py runs/faces-vae --attribute smiling

Writes docs/images/explorer.png.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from vaekit.serve.app import Server, allowed_hosts, make_app
from vaekit.serve.explorer import Explorer

IMAGES = Path(__file__).resolve().parent / "images"


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--attribute", default=None, help="the attribute slider to move (default: the first)")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1500", "--hide-scrollbars"):
        options.add_argument(flag)
    with Server(make_app(Explorer(args.run_dir), allowed_hosts("127.0.0.1"))) as url:
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(url + "/")
            WebDriverWait(driver, 120).until(lambda d: d.find_element(By.ID, "status").text == "ready")
            driver.find_element(By.ID, "set-a").click()
            driver.find_elements(By.CSS_SELECTOR, "#samples img.sample")[2].click()
            time.sleep(0.5)
            driver.find_element(By.ID, "set-b").click()
            driver.execute_script("api('/api/example?index=3').then((r) => setCurrent(r.z, r.input))")  # a test face, to edit
            time.sleep(1)
            selector = f".attr-slider[data-name='{args.attribute}']" if args.attribute else ".attr-slider"
            slider = driver.find_element(By.CSS_SELECTOR, selector)
            ActionChains(driver).drag_and_drop_by_offset(slider, slider.size["width"] // 4, 0).perform()
            ActionChains(driver).move_to_element_with_offset(driver.find_element(By.ID, "map"), 30, -40).perform()
            time.sleep(3)
            IMAGES.mkdir(exist_ok=True)
            driver.save_screenshot(str(IMAGES / "explorer.png"))
            time.sleep(1)  # let the last hover's decode finish before the server stops
        finally:
            driver.quit()


if __name__ == "__main__":
    main_()
