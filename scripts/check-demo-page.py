#!/usr/bin/env python3
"""Drive the demo page (GET /) in headless Chromium and check that every section works end to end.

    scripts/check-demo-page.py --url http://127.0.0.1:8080/ --screenshot demo.png
    scripts/check-demo-page.py --start .build/release/deepserve --screenshot demo.png

--url checks a running server; --start BINARY starts `BINARY --port PORT` on a free port (cwd = the
repository root, so it serves models/), waits for /health/ready, runs the checks and stops it.

Needs Debian's chromium and chromium-driver (`apt-get install -y chromium chromium-driver`) and
`pip install -r scripts/requirements-demo.txt`. The driver and browser are passed explicitly, so
Selenium Manager never goes online. Prints one line per check; exits 0 when all pass, 1 on the first
failure (with the reason), 2 when the browser or server could not be started.
"""
import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ["draw", "autoencoder", "photo", "gan", "generate"]
# Strokes as lists of (x, y) points in a 280 x 280 pad, origin at the top left.
DIGITS = {
    "1": [[(150, 40), (140, 240)]],
    "7": [[(60, 50), (215, 50), (125, 245)]],
}


class CheckFailed(Exception):
    pass


def log(name, detail=""):
    print(f"ok    {name}" + (f": {detail}" if detail else ""), flush=True)


def wait_for(what, predicate, timeout):
    """Poll predicate() until it returns something truthy; raise CheckFailed naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # element not there yet, stale, ...
            last_error = e
        time.sleep(0.1)
    raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last_error})" if last_error else ""))


def page_error(driver, section):
    """The error a section shows, if any (each has a <p class=error> that the page fills)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e && !e.hidden ? e.textContent : ''",
        f"#{section}-error")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, timeout):
    port = free_port()
    logfile = tempfile.NamedTemporaryFile(prefix="deepserve-demo-", suffix=".log", delete=False)
    try:
        proc = subprocess.Popen([str(Path(binary).resolve()), "--port", str(port), "--grpc-port", "0"], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT)
    except OSError as e:
        raise RuntimeError(f"cannot start {binary}: {e}")
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "health/ready", timeout=2) as r:
                if r.status == 200:
                    return proc, url, logfile.name
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    stop_server(proc)
    tail = Path(logfile.name).read_text(errors="replace")[-2000:]
    why = f"exited with status {proc.returncode}" if proc.returncode not in (None, 0, -15) else f"not ready within {timeout} s"
    raise RuntimeError(f"server {binary} {why}; log {logfile.name}:\n{tail}")


def stop_server(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def open_browser(args):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--hide-scrollbars", "--force-color-profile=srgb"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(args.chromedriver), options=options)


def draw(driver, canvas, strokes):
    """Draw strokes with real pointer input: press, move in small steps, release."""
    from selenium.webdriver.common.action_chains import ActionChains

    rect = driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); "
                                 "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]", canvas)
    sx, sy = rect[0] / 280, rect[1] / 280
    for stroke in strokes:
        chain = ActionChains(driver, duration=10)
        # Offsets are from the element's centre in Selenium 4.
        px, py = round((stroke[0][0] - 140) * sx), round((stroke[0][1] - 140) * sy)
        chain.move_to_element_with_offset(canvas, px, py).click_and_hold()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            steps = max(2, int(max(abs(x1 - x0), abs(y1 - y0)) / 8))
            for i in range(1, steps + 1):
                nx = round((x0 + (x1 - x0) * i / steps - 140) * sx)
                ny = round((y0 + (y1 - y0) * i / steps - 140) * sy)
                chain.move_by_offset(nx - px, ny - py)
                px, py = nx, ny
        chain.release().perform()


def run_checks(driver, url, args):
    from selenium.webdriver.common.by import By

    t = args.timeout
    q = lambda sel: driver.find_element(By.CSS_SELECTOR, sel)
    js = driver.execute_script

    # 1. The server hands out the page, and it renders: title, every section, the model chips.
    try:
        with urllib.request.urlopen(url, timeout=t) as r:
            status, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        status, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
    except (urllib.error.URLError, OSError) as e:
        raise CheckFailed(f"GET {url} failed: {getattr(e, 'reason', e)}")
    if status != 200 or not ctype.startswith("text/html"):
        raise CheckFailed(f"GET {url} answered {status} {ctype}: {body[:120]!r} (does this server serve the demo page?)")
    log("GET /", f"200 {ctype}, {len(body):,} bytes")
    driver.get(url)
    wait_for("the page to load", lambda: js("return document.readyState") == "complete", t)
    if "deepserve" not in driver.title:
        raise CheckFailed(f"title is {driver.title!r}, expected it to name deepserve")
    missing = [s for s in SECTIONS if not driver.find_elements(By.ID, s)]
    if missing:
        raise CheckFailed(f"sections missing: {', '.join('#' + s for s in missing)}")
    log("page renders", f"title {driver.title!r}, sections {', '.join('#' + s for s in SECTIONS)}")
    # No image shows the broken-image icon before anything is drawn: an image waiting for content has no src.
    broken = js("return [...document.images].filter((i) => i.getAttribute('src') && i.complete && i.naturalWidth === 0)"
                ".map((i) => i.id || i.getAttribute('src').slice(0, 40))")
    if broken:
        raise CheckFailed(f"broken images at load: {broken}")
    log("no broken images", f"{js('return document.images.length')} images")
    chips = wait_for("the model status chips",
                     lambda: q("#model-status").find_elements(By.CSS_SELECTOR, ".chip.ready, .chip.down"), t)
    down = [c.text for c in chips if "down" in c.get_attribute("class")]
    if down:
        raise CheckFailed(f"models shown as not ready: {down}")
    log("model status", ", ".join(c.text for c in chips) + " ready")

    # 2. Draw a digit with the mouse; the top-1 shown must be that digit.
    canvas = q("#digit-canvas")
    draw(driver, canvas, DIGITS[args.digit])
    wait_for("the drawing to be classified", lambda: not canvas.get_attribute("data-pending")
             and (q("#classify-results").get_attribute("data-top1") or page_error(driver, "classify")), t)
    if err := page_error(driver, "classify"):
        raise CheckFailed(f"classify shows an error: {err}")
    rows = [r.text.replace("\n", " ") for r in q("#classify-results").find_elements(By.CSS_SELECTOR, ".pred")]
    top1 = q("#classify-results").get_attribute("data-top1")
    if top1 != args.digit:
        raise CheckFailed(f"drew a {args.digit!r} but the page shows top-1 {top1!r} (top 3: {rows})")
    log("draw + classify", f"drew a {args.digit}, top 3: " + " | ".join(rows))

    # 3. The same drawing through the autoencoder: reconstruction image and score.
    wait_for("the reconstruction", lambda: js("return arguments[0].complete && arguments[0].naturalWidth", q("#recon-image"))
             and q("#recon-score").get_attribute("data-error") or page_error(driver, "recon"), t)
    if err := page_error(driver, "recon"):
        raise CheckFailed(f"reconstruct shows an error: {err}")
    score = q("#recon-score").text.replace("\n", " ")
    if "threshold" not in score:
        raise CheckFailed(f"the score shows no threshold: {score!r}")
    size = js("return arguments[0].naturalWidth + 'x' + arguments[0].naturalHeight", q("#recon-image"))
    log("autoencoder", f"{size} reconstruction, {score}")

    # 4. An image file through the file picker (a held-out MNIST digit with a known label).
    heldout = ROOT / "Tests/Fixtures/models/mnist-heldout"
    labels = {row["file"]: row["label"] for row in csv.DictReader((heldout / "labels.csv").read_text().splitlines())}
    fixture = heldout / "000.png"
    q("#photo-file").send_keys(str(fixture))
    wait_for("the file to be classified", lambda: q("#photo-results").get_attribute("data-top1") or page_error(driver, "photo"), t)
    if err := page_error(driver, "photo"):
        raise CheckFailed(f"image file classification shows an error: {err}")
    got, want = q("#photo-results").get_attribute("data-top1"), labels[fixture.name]
    if got != want:
        raise CheckFailed(f"{fixture.name} is a {want} but the page shows {got}")
    log("image file + classify", f"{fixture.name} → {got}")

    # 5. Text generation with a fixed seed streams in, and equals what the API gives without streaming.
    for sel, value in (("#generate-seed", "7"), ("#generate-max-tokens", "120")):
        q(sel).clear()
        q(sel).send_keys(value)
    q("#generate-button").click()
    out = q("#generate-output")
    state = wait_for("the generation to finish", lambda: out.get_attribute("data-state") in ("done", "error", "stopped") and out.get_attribute("data-state"), t)
    if state != "done":
        raise CheckFailed(f"generation ended as {state!r}: {page_error(driver, 'generate') or q('#generate-status').text}")
    streamed = js("return arguments[0].lastChild.data", out)   # the generated text node, after the prompt
    if not streamed.strip():
        raise CheckFailed("generation finished but no text arrived")
    request = {"prompt": q("#generate-prompt").get_attribute("value"), "max_tokens": 120, "seed": 7,
               "temperature": float(q("#generate-temperature").get_attribute("value"))}
    with urllib.request.urlopen(urllib.request.Request(
            urllib.parse.urljoin(url, "/v1/models/shakespeare-lstm/generate"), data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"}), timeout=t) as r:
        expected = json.load(r)["text"]
    if streamed != expected:
        raise CheckFailed(f"the page streamed {streamed[:60]!r}… but the same request without streaming "
                          f"gives {expected[:60]!r}…")
    log("generate (SSE)", f"{q('#generate-status').text}; {len(streamed)} characters, same as unstreamed; "
                          f"starts {streamed[:32]!r}")

    # 6. GAN grid and interpolation images load.
    q("#gan-seed").clear()
    q("#gan-seed").send_keys("3")
    js("document.getElementById('gan-image').removeAttribute('src')")
    q("#gan-sample").click()
    for sel in ("#gan-image", "#gan-walk"):
        dims = wait_for(f"{sel} to load", lambda: page_error(driver, "gan") or js(
            "const i = arguments[0]; return i.complete && i.naturalWidth > 0 ? i.naturalWidth + 'x' + i.naturalHeight : ''", q(sel)), t)
        if err := page_error(driver, "gan"):
            raise CheckFailed(f"GAN section shows an error: {err}")
        log(f"gan {sel[5:]}", f"{dims} PNG")

    # 7. Nothing from outside the server, and nothing wrong on the console or the page.
    origin = js("return location.origin")
    foreign = js("return performance.getEntriesByType('resource').map(e => e.name)"
                 ".filter(n => !n.startsWith(location.origin) && !n.startsWith('data:') && !n.startsWith('blob:'))")
    if foreign:
        raise CheckFailed(f"the page fetched from outside {origin}: {foreign}")
    if err := page_error(driver, "global"):
        raise CheckFailed(f"the page shows an uncaught error: {err}")
    try:
        entries = driver.get_log("browser")
    except Exception as e:  # not every driver offers the log
        log("console", f"log not available ({e.__class__.__name__})")
    else:
        severe = [e["message"] for e in entries if e.get("level") == "SEVERE"]
        if severe:
            raise CheckFailed("errors in the browser console:\n  " + "\n  ".join(severe))
        log("console", f"no errors ({len(entries)} messages), no outside requests")


def screenshot(driver, path):
    """The whole page, not just the window."""
    import base64

    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        Path(path).write_bytes(base64.b64decode(shot["data"]))
    except Exception:
        driver.save_screenshot(str(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the page of a running server, e.g. http://127.0.0.1:8080/")
    where.add_argument("--start", metavar="BINARY", help="start this deepserve binary on a free port and check it")
    ap.add_argument("--screenshot", required=True, help="where to save a full-page PNG (also written on failure)")
    ap.add_argument("--digit", choices=sorted(DIGITS), default="1", help="the digit to draw (default 1)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to wait for each step (default 30)")
    ap.add_argument("--ready-timeout", type=float, default=120, help="seconds --start waits for /health/ready")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()

    for tool in (args.chromium, args.chromedriver):
        if not os.access(tool, os.X_OK):
            print(f"error: {tool} not found; apt-get install -y chromium chromium-driver", file=sys.stderr)
            return 2
    try:
        import selenium  # noqa: F401
    except ImportError:
        print("error: selenium is missing; pip install -r scripts/requirements-demo.txt", file=sys.stderr)
        return 2

    server = None
    try:
        if args.start:
            try:
                server, url, logname = start_server(args.start, args.ready_timeout)
            except RuntimeError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            log("server", f"{args.start} ready at {url} (log {logname})")
        else:
            url = args.url
        try:
            driver = open_browser(args)
        except Exception as e:
            print(f"error: could not start Chromium: {e}", file=sys.stderr)
            return 2
        try:
            try:
                run_checks(driver, url, args)
                status = 0
            except CheckFailed as e:
                print(f"FAIL  {e}", flush=True)
                status = 1
            except Exception as e:  # a WebDriver error is a failure too, with its reason
                print(f"FAIL  {e.__class__.__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}", flush=True)
                status = 1
            screenshot(driver, args.screenshot)
            print(f"{'ok   ' if status == 0 else 'info '} screenshot: {args.screenshot}", flush=True)
        finally:
            driver.quit()
    finally:
        if server:
            stop_server(server)
    print("all checks passed" if status == 0 else "demo page check FAILED", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
