"""tests/ci.py: under CI=true a skipped test fails, unless it is marked ci_may_skip."""

import pytest

TESTS = """
import pytest

def test_needs_a_cluster():
    pytest.skip("no SLURM cluster")

@pytest.mark.skipif(True, reason="no real data")
def test_needs_real_data():
    pass

def test_needs_a_package():
    pytest.importorskip("a_package_that_is_not_installed")

@pytest.mark.ci_may_skip
@pytest.mark.skipif(True, reason="needs a CUDA device")
def test_needs_cuda():
    pass

@pytest.mark.xfail(reason="known")
def test_known_failure():
    assert False

def test_runs():
    pass
"""


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def run(suite, *args):
    # tests.ci is already imported (by tests/conftest.py), so pytest cannot rewrite its asserts
    quiet = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
    return suite.runpytest_inprocess("-p", "tests.ci", *quiet, *args)


def test_without_ci_a_missing_need_is_a_skip(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = run(suite)
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)


def test_under_ci_a_skip_fails_and_says_why(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(suite, "-rfE")
    # a skip in a test's set-up (skipif, a fixture) becomes an error, in its body a failure
    result.assert_outcomes(passed=1, failed=2, errors=1, skipped=1, xfailed=1)
    out = result.stdout.str()
    assert "CI=true: this test may not skip, and it would have: no SLURM cluster" in out
    assert "it would have: no real data" in out
    assert "it would have: could not import 'a_package_that_is_not_installed'" in out
