import pytest
pytestmark = pytest.mark.slow
def test_python(platform):
    name, token, key = platform.new_user()
    app = platform.create_app(token)
    work = platform.checkout("python-web")
    r = platform.push(work, key, app)
    print(r.output)
    print(platform.logs())
    assert r.returncode == 0
