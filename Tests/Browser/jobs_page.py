#!/usr/bin/env python3
"""Real-browser test of the Jobs page: headless Chromium drives the page served by `engine-run serve`.

It runs the bundled example (one item fails in ingest), serves the store on loopback, enters the
API key, opens the job, selects the failed item, presses Retry -> Recover, and waits until the row
reads succeeded with nothing collected twice. A screenshot is kept in a temporary folder.

usage: jobs_page.py --engine-run PATH --example Examples/news.json
"""
import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

KEY = "browser-test-key"


def start_server(engine_run, folder):
    out = open(os.path.join(folder, "serve.out"), "w+")
    err = open(os.path.join(folder, "serve.err"), "w+")
    # A sample of the job totals every second, so the activity chart has points within the test.
    server = subprocess.Popen([engine_run, "serve", "--port", "0", "--api-key", KEY, "--poll-seconds", "0.2"],
                              cwd=folder, stdout=out, stderr=err, env=dict(os.environ, ENGINE_SAMPLE_SECONDS="1"))
    deadline = time.time() + 60
    while time.time() < deadline:
        out.seek(0)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", out.read())
        if match:
            return server, int(match.group(1))
        if server.poll() is not None:
            break
        time.sleep(0.1)
    err.seek(0)
    server.kill()
    sys.exit("engine-run serve did not start: " + err.read())


def browser():
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000"]:
        options.add_argument(argument)
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def item_rows(driver):
    """The work-item rows as the page shows them now, read in one step (rows are re-rendered while polling)."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('#items tbody tr[data-status]')).map((row) => ({
            id: row.dataset.id, name: row.querySelector('.name').textContent, status: row.dataset.status,
            attempt: row.querySelector('.attempt').textContent, text: row.textContent,
            collected_total: row.querySelector('.collected-total').textContent}));""")


def click(wait, css):
    """Clicks the element once it is there, looking it up again if polling replaced it."""
    def attempt(driver):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return True
        except StaleElementReferenceException:
            return False
    wait.until(attempt)


def main():
    print("browser test starting", flush=True)
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine-run", required=True)
    parser.add_argument("--example", required=True)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="jobengine-browser-")
    shutil.copy(args.example, os.path.join(folder, "news.json"))
    first = subprocess.run([args.engine_run, "run", "news.json", "--quiet"], cwd=folder, capture_output=True, text=True)
    assert first.returncode == 1, "the example should leave q2 failed: " + first.stdout + first.stderr
    # A second job whose two items both fail, for the job menu's "Retry failed items".
    with open(os.path.join(folder, "outage.json"), "w") as spec:
        spec.write("""{"name": "outage", "collector": {"type": "synthetic", "documents": 200, "page_size": 20},
            "ingester": {"type": "jsonl", "path": "out/outage-{item}.jsonl", "batch_size": 20},
            "items": [{"name": "a"}, {"name": "b"}],
            "faults": [{"item": "a", "phase": "collect", "at_document": 100}, {"item": "b", "phase": "ingest", "at_document": 50}]}""")
    second = subprocess.run([args.engine_run, "run", "outage.json", "--quiet"], cwd=folder, capture_output=True, text=True)
    assert second.returncode == 1, "outage.json should leave a and b failed: " + second.stdout + second.stderr
    # b as a poison item: its worker died every time it ran it (what the sweep leaves).
    store = sqlite3.connect(os.path.join(folder, "engine.sqlite"))
    store.execute("UPDATE work_items SET error_kind = 'crash_loop', last_error = 'its worker died 6 times in a row' "
                  "WHERE name = 'b' AND job_id = (SELECT id FROM jobs WHERE name = 'outage')")
    store.commit()
    store.close()

    server, port = start_server(args.engine_run, folder)
    driver = browser()
    screenshot = os.path.join(folder, "jobs-page.png")
    try:
        wait = WebDriverWait(driver, 30)
        driver.get("http://127.0.0.1:%d/" % port)

        # The page asks for the key once and keeps it for the browser session.
        key_input = wait.until(EC.visibility_of_element_located((By.ID, "api-key")))
        key_input.send_keys(KEY)
        driver.find_element(By.ID, "save-key").click()

        job_link = wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "news-2026-11")))
        row = job_link.find_element(By.XPATH, "./ancestor::tr")
        assert row.find_element(By.CSS_SELECTOR, ".count-failed").text == "1", row.text
        job_link.click()

        # The job page: filter to the failed items and select q2.
        wait.until(EC.text_to_be_present_in_element((By.ID, "job-title"), "news-2026-11"))
        Select(driver.find_element(By.ID, "status-filter")).select_by_value("failed")
        wait.until(lambda d: [row["name"] for row in item_rows(d)] == ["q2"])
        failed = item_rows(driver)[0]
        assert failed["status"] == "failed" and "sink timed out" in failed["text"], failed
        click(wait, "#item-%s input.select-item" % failed["id"])
        retry_button = driver.find_element(By.ID, "retry-selected")
        wait.until(lambda d: retry_button.is_enabled())
        retry_button.click()

        # The dialog explains both modes; choose Recover.
        dialog = wait.until(EC.visibility_of_element_located((By.ID, "retry-dialog")))
        assert "nothing already collected is collected again" in dialog.text, dialog.text
        assert "from the beginning" in dialog.text, dialog.text
        assert not dialog.find_element(By.ID, "retry-warning").is_displayed(), "q2 is no poison item"
        dialog.find_element(By.ID, "mode-recover").click()
        dialog.find_element(By.ID, "confirm-retry").click()

        wait.until(EC.text_to_be_present_in_element((By.ID, "message"), "started for 1 of 1 item"))
        # The retried item leaves the failed filter; show everything and watch it run again.
        Select(driver.find_element(By.ID, "status-filter")).select_by_value("")
        WebDriverWait(driver, 60).until(
            lambda d: any(row["name"] == "q2" and row["status"] == "succeeded" for row in item_rows(d)))
        row = [row for row in item_rows(driver) if row["name"] == "q2"][0]
        assert row["attempt"] == "2", row
        # Nothing collected again, and the row says what the recover saved.
        assert row["collected_total"] == "1000 (1000 not collected again)", "recover collected again: %s" % row
        # Its history explains why it ran again.
        click(wait, "#item-%s td.name button" % failed["id"])
        wait.until(EC.text_to_be_present_in_element((By.ID, "item-detail-title"), "History of q2"))
        wait.until(lambda d: "recover" in d.execute_script(
            "return Array.from(document.querySelectorAll('#item-events tbody tr'))"
            ".map((row) => row.cells.length === 6 ? row.cells[4].textContent : '');"))
        summary = driver.find_element(By.ID, "item-detail-summary").text
        assert "Collected over all attempts: 1000" in summary, summary
        assert "Recovers resumed with 1000 documents already collected" in summary, summary
        driver.save_screenshot(screenshot)
        print("ok: q2 recovered in the browser; screenshot " + screenshot)

        # The activity charts: documents per second drawn from the server's samples, q2's first
        # failure (transient, "sink timed out") as a bar of its kind, and words for screen readers.
        driver.refresh()
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "const line = document.querySelector('#rate-chart polyline.line-ingested');"
            "return line !== null && line.getAttribute('points').trim().length > 0;"))
        bars = driver.find_elements(By.CSS_SELECTOR, "#failure-chart rect.bar-transient")
        assert len(bars) >= 1, driver.find_element(By.ID, "failure-chart").get_attribute("outerHTML")
        assert float(bars[0].get_attribute("height")) > 0, bars[0].get_attribute("outerHTML")
        label = driver.find_element(By.ID, "failure-chart").get_attribute("aria-label")
        assert "1 transient" in label, label
        rate_label = driver.find_element(By.ID, "rate-chart").get_attribute("aria-label")
        assert "ingested" in rate_label, rate_label
        assert driver.find_element(By.ID, "activity-summary").text, "no activity summary"
        chart_shot = os.path.join(folder, "activity.png")
        driver.find_element(By.ID, "activity").screenshot(chart_shot)
        print("ok: the activity charts rendered with data; screenshot " + chart_shot)

        # The other job: its menu's "Retry failed items", with Restart.
        driver.find_element(By.LINK_TEXT, "← All jobs").click()
        wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "outage"))).click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "job-title"), "outage"))
        wait.until(lambda d: sorted(row["status"] for row in item_rows(d)) == ["failed", "failed"])

        # The poison item stands out, in color and in words.
        poison = [row for row in item_rows(driver) if row["name"] == "b"][0]
        poison_row = driver.find_element(By.ID, "item-" + poison["id"])
        assert "kind-crash_loop" in poison_row.get_attribute("class"), poison_row.get_attribute("class")
        assert poison_row.find_element(By.CSS_SELECTOR, ".status").text == "failed (crash loop)", poison_row.text
        red, green, blue = [int(x) for x in poison_row.value_of_css_property("background-color")
                            .split("(")[1].split(")")[0].split(",")[:3]]
        assert red > green + 10 and red > blue + 10, poison_row.value_of_css_property("background-color")
        # Each item's progress bar says what it shows.
        bar = poison_row.find_element(By.CSS_SELECTOR, ".bar")
        assert "collected documents ingested" in bar.get_attribute("aria-label"), bar.get_attribute("aria-label")

        # The filter bar narrows the list, and "Retry all matching" counts on the server first.
        Select(driver.find_element(By.ID, "kind-filter")).select_by_value("crash_loop")
        wait.until(lambda d: [row["name"] for row in item_rows(d)] == ["b"])
        driver.find_element(By.ID, "error-filter").send_keys("WORKER DIED")
        wait.until(lambda d: [row["name"] for row in item_rows(d)] == ["b"])
        driver.find_element(By.ID, "retry-matching").click()
        dialog = wait.until(EC.visibility_of_element_located((By.ID, "retry-dialog")))
        assert "Retry 1 matching (failed, crash loop, with \u201cWORKER DIED\u201d in the error) item." in dialog.text, dialog.text
        warning = dialog.find_element(By.ID, "retry-warning")
        assert warning.is_displayed() and warning.text.startswith("It is in a crash loop"), warning.text
        driver.save_screenshot(os.path.join(folder, "retry-matching.png"))
        dialog.find_element(By.ID, "dismiss-retry").click()
        driver.find_element(By.ID, "error-filter").clear()
        driver.find_element(By.ID, "error-filter").send_keys("no such error")
        wait.until(lambda d: item_rows(d) == [])
        driver.find_element(By.ID, "error-filter").clear()
        driver.execute_script("document.getElementById('error-filter').dispatchEvent(new Event('input'))")
        Select(driver.find_element(By.ID, "kind-filter")).select_by_value("")
        wait.until(lambda d: len(item_rows(d)) == 2)
        print("ok: the filter bar found the poison item and counted it before retrying")

        driver.find_element(By.CSS_SELECTOR, "#job-menu summary").click()
        wait.until(EC.element_to_be_clickable((By.ID, "retry-all-failed"))).click()
        dialog = wait.until(EC.visibility_of_element_located((By.ID, "retry-dialog")))
        assert "Retry 2 failed items." in dialog.text, dialog.text
        # The poison item among them is called out before the retry is confirmed.
        warning = dialog.find_element(By.ID, "retry-warning")
        assert warning.is_displayed() and "1 of them is in a crash loop" in warning.text, warning.text
        assert "choose another error kind" in warning.text, warning.text
        dialog.find_element(By.ID, "mode-restart").click()
        driver.save_screenshot(os.path.join(folder, "retry-dialog.png"))
        dialog.find_element(By.ID, "confirm-retry").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "message"), "Retry (restart) started for 2 of 2 items"))
        WebDriverWait(driver, 60).until(
            lambda d: [row["status"] for row in item_rows(d)] == ["succeeded", "succeeded"])
        for row in item_rows(driver):
            assert row["attempt"] == "2", row
        print("ok: the job menu restarted both failed items; screenshots in " + folder)
    except Exception:
        driver.save_screenshot(screenshot)
        print("failed; screenshot " + screenshot, file=sys.stderr)
        with open(os.path.join(folder, "serve.err")) as err:
            print(err.read()[-3000:], file=sys.stderr)
        raise
    finally:
        driver.quit()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "timeout"
    if code != 0:
        sys.exit("engine-run serve exited %s after SIGTERM" % code)


if __name__ == "__main__":
    main()
