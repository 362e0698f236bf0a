"""Every bad input of the catalogue (tests/error_cases.py, the README's table) gets exit code 2 and one
`genzoo: error:` line naming the cause, never a traceback."""
from __future__ import annotations

import pytest

from error_cases import CASES, run_case, train_fixture_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_fixture_run(tmp_path_factory.mktemp("catalogue") / "run")


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 30 and len({c.what for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_gets_one_clear_line(case, trained, tmp_path):
    code, message = run_case(case, tmp_path, trained)
    assert code == 2, message
    assert message.startswith("genzoo: error:") and "Traceback" not in message, message
    assert case.expect in message, message
