"""Screenshots of the studio's pages for the README (docs/figures/studio-*.png).

    python scripts/studio_screenshots.py RUNS_DIR OUT_DIR [--vae NAME] [--diffusion NAME] [--text NAME]
                                         [--compare A,B]

Starts ``genzoo studio`` over RUNS_DIR on a free port, drives the system Chromium with Playwright through the runs
table, a comparison, a VAE's run page (a click on the latent map, an interpolation, attribute arithmetic), a
diffusion run's sample panel and trajectory, and a text model's writer, and saves one PNG per page.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

WAIT = 120_000


def run_task(page, prefix: str = "sample", **controls) -> None:
    """Set the controls of the task panel ``prefix`` (a menu is chosen, a field filled) and press its button."""
    for name, value in controls.items():
        control = page.locator(f"#{prefix}-{name}")
        if control.evaluate("c => c.tagName") == "SELECT":
            control.select_option(str(value))
        else:
            control.fill(str(value))
    page.click(f"#{prefix}-run")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--vae", default="vae-digits")
    ap.add_argument("--diffusion", default="ddpm-fashion")
    ap.add_argument("--text", default="gpt-fortunes")
    ap.add_argument("--compare", default="vae-digits,homl-dcgan")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "genzoo"), "studio", "--runs", str(args.runs),
                             "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/favicon.ico", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})

            def shot(name: str, full: bool = False) -> None:
                path = args.out / f"studio-{name}.png"
                page.screenshot(path=str(path), full_page=full)
                print(path)

            page.goto(base + "/")
            expect(page.locator("#runs tbody tr").first).to_be_visible(timeout=WAIT)
            for name in args.compare.split(","):
                page.check(f'#runs tbody tr[data-run="{name}"] input.pick')
            shot("runs")
            page.click("#compare-button")
            expect(page.locator("#compare-table tbody tr").first).to_be_visible(timeout=WAIT)
            expect(page.locator("#compare-curves polyline").first).to_be_attached(timeout=WAIT)
            shot("compare", full=True)

            page.goto(f"{base}/#/run/{args.vae}")
            canvas = page.locator("#latent-map[data-ready]")
            expect(canvas).to_be_visible(timeout=WAIT)
            box = canvas.bounding_box()
            canvas.click(position={"x": 0.62 * box["width"], "y": 0.7 * box["height"]})
            expect(page.locator("#map-info")).to_contain_text("decoded (", timeout=WAIT)
            run_task(page, n=32)
            expect(page.locator("#sample-message")).to_contain_text("done", timeout=WAIT)
            page.fill("#interp-a-value", "3")
            page.fill("#interp-b-value", "7")
            page.click("#interp-go")
            expect(page.locator("#interp-strip img").first).to_be_visible(timeout=WAIT)
            page.select_option("#attribute", "8")
            page.locator("#attribute-factor").fill("3")
            time.sleep(1.0)
            shot("vae", full=True)

            page.goto(f"{base}/#/run/{args.diffusion}")
            expect(page.locator("#sample-sampler")).to_be_visible(timeout=WAIT)
            run_task(page, sampler="ddim", steps=50, n=32)
            expect(page.locator("#sample-message")).to_contain_text("denoising steps", timeout=WAIT)
            shot("diffusion-progress")
            expect(page.locator("#sample-message")).to_contain_text("done", timeout=WAIT)
            page.click('details[data-task="trajectory"] > summary')
            run_task(page, "trajectory", n=4)
            expect(page.locator("#trajectory-message")).to_contain_text("done", timeout=WAIT)
            shot("diffusion", full=True)

            page.goto(f"{base}/#/run/{args.text}")
            expect(page.locator("#sample-prompt")).to_be_visible(timeout=WAIT)
            run_task(page, prompt="you will", temperature=0.8, n=3)
            expect(page.locator("#sample-message")).to_contain_text("done", timeout=WAIT)
            page.fill("#writer-prompt", "you will")
            page.click("#writer-start")
            for _ in range(4):
                expect(page.locator("#writer-choices button").first).to_be_visible(timeout=WAIT)
                before = page.locator("#writer-text").text_content()
                page.locator("#writer-choices button:not([disabled])").first.click()
                expect(page.locator("#writer-text")).not_to_have_text(before or "", timeout=WAIT)
            page.locator("#writer-panel").scroll_into_view_if_needed()
            shot("text", full=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
