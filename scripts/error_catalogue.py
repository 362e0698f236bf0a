"""Print the README's catalogue of bad inputs and genzoo's messages, by running every case of
tests/error_cases.py through the CLI (the same cases tests/test_error_catalogue.py checks).

    python scripts/error_catalogue.py > catalogue.md
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GENZOO_NUM_THREADS", "1")

from error_cases import CASES, run_case, train_fixture_run  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = train_fixture_run(tmp / "run")
        print("| bad input | exit | message |")
        print("|---|---|---|")
        for i, case in enumerate(CASES):
            scratch = tmp / f"case{i}"
            scratch.mkdir()
            code, message = run_case(case, scratch, run)
            text = message.replace("genzoo: error: ", "").replace(str(tmp), "…").replace("|", "\\|")
            text = re.sub(r"pid \d+ on [^,]+", "pid N on HOST", text)
            text = re.sub(r"since [\d: -]+\)", "since …)", text)
            print(f"| {case.what} | {code} | {text.strip()} |")


if __name__ == "__main__":
    main()
