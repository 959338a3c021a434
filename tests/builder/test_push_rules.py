"""End to end: a Procfile the controller would refuse is refused by the builder before anything is built,
in the API's own words (it used to build fully, then fail at the controller's build hook with a 400)."""
from __future__ import annotations

import pytest

from deiscore import validation
from deiscore.errors import InvalidInput
from tests.builder.conftest import commit

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("ptype", ["Web", "worker--x"])
def test_procfile_type_the_api_refuses_is_refused_before_building(platform, owner, ptype):
    _, token, key = owner
    app = platform.create_app(token)
    work = platform.checkout("static-site")
    (work / "Procfile").write_text(f"# processes\n{ptype}: python3 -m http.server $PORT\n")
    commit(work, "process type the controller refuses")
    result = platform.push(work, key, app)
    with pytest.raises(InvalidInput) as rule:
        validation.procfile_type(ptype)
    api = platform.controller.api(token).post(
        f"{platform.controller.url}/v1/apps/{app}/builds",
        json={"image": "registry.example.com/web:1", "procfile": {ptype: "python3 -m http.server $PORT"}}, timeout=10)
    assert api.status_code == 400 and api.json()["detail"] == rule.value.detail
    assert result.returncode != 0, result.output
    assert f"Procfile line 2: {rule.value.detail}" in result.remote, result.output
    assert "[remote rejected] master -> master (build failed)" in result.output
    assert "detected" not in result.remote and "Compiled slug" not in result.remote  # nothing was built
    assert platform.repo_ref(app) is None
    assert platform.releases_versions(token, app) == [1]
