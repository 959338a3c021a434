import io
import tarfile

import pytest

from builder.buildpacks import (
    CUSTOM_DIR,
    build_command,
    build_tools_tar,
    detect_order,
    shipped_buildpacks,
)
from builder.errors import BuildFailed
from builder.jobs import BuildPlan, plan_build, process_types


def test_detect_order_puts_specific_buildpacks_first():
    assert detect_order(["static", "procfile", "python"]) == ["python", "static", "procfile"]
    assert detect_order(["zeta", "procfile", "alpha", "python"]) == ["python", "procfile", "alpha", "zeta"]


def test_shipped_buildpacks_follow_the_buildpack_api():
    shipped = shipped_buildpacks()
    assert set(shipped) >= {"python", "static", "procfile"}
    for path in shipped.values():
        for script in ("detect", "compile", "release"):
            assert (path / "bin" / script).is_file()


def test_build_command_fetches_a_custom_buildpack_in_the_container():
    assert build_command(["/tmp/buildpacks/python"]) == ["/runner/build", "/tmp/buildpacks/python"]
    assert build_command([], "https://h/bp.git#v2") == ["/runner/build", "--fetch", "https://h/bp.git", "v2",
                                                        CUSTOM_DIR]
    assert build_command([], "git://h/bp") == ["/runner/build", "--fetch", "git://h/bp", "", CUSTOM_DIR]
    for refused in ("file:///srv/bp", "/srv/bp", "ssh://git@h/bp", "#main"):  # a config set before the rule
        with pytest.raises(BuildFailed, match="BUILDPACK_URL"):
            build_command([], refused)


def test_tools_tar_has_executable_scripts_and_byte_exact_env():
    data, paths = build_tools_tar({"python": shipped_buildpacks()["python"]},
                                  {"MULTI": "a\nb=c 'q' ü", "not a name": "x"})
    assert paths == ["/tmp/buildpacks/python"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert tar.getmember("runner/build").mode & 0o111
        assert tar.getmember("tmp/buildpacks/python/bin/compile").mode & 0o111
        assert tar.extractfile("tmp/env/MULTI").read() == "a\nb=c 'q' ü".encode()
    assert not any("not a name" in name for name in names)


def test_plan_build_kinds_and_procfile():
    assert plan_build({}, {}) == BuildPlan("buildpack", None, None)
    plan = plan_build({"Dockerfile": b"FROM x", "Procfile": b"web: run"}, {"BUILDPACK_URL": "file:///bp"})
    assert plan == BuildPlan("dockerfile", {"web": "run"}, "file:///bp")


def test_procfile_wins_over_defaults():
    assert process_types(BuildPlan("buildpack", {"web": "a"}, None), {"web": "b", "x": "c"}) == {"web": "a"}
    assert process_types(BuildPlan("dockerfile", None, None), {"cmd": "python3 s.py"}) == {"cmd": "python3 s.py"}
