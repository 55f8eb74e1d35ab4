import pytest


def inc(x):
    return x + 1


def test_inc():
    assert inc(3) == 4


def test_fails_on_purpose():
    assert inc(2) == 4


@pytest.mark.parametrize("a,b", [(1, 2), (5, 6)])
def test_param(a, b):
    assert inc(a) == b


@pytest.fixture
def data(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hi")
    return p


def test_fixture(data):
    assert data.read_text() == "hi"


@pytest.mark.skip(reason="demo")
def test_skipped():
    pass
