import io
import tarfile

import pytest

from builder.buildpacks import (
    FETCHED_DIR,
    Selection,
    build_command,
    build_tools_tar,
    detect_order,
    dotenv_buildpack_url,
    select,
    shipped_buildpacks,
)
from builder.errors import BuildFailed
from builder.jobs import BuildPlan, plan_build, process_types


def test_detect_order_puts_specific_buildpacks_first():
    assert detect_order(["static", "procfile", "python", "node"]) == ["python", "node", "static", "procfile"]
    assert detect_order(["zeta", "procfile", "alpha", "python"]) == ["python", "procfile", "alpha", "zeta"]


def test_shipped_buildpacks_follow_the_buildpack_api():
    shipped = shipped_buildpacks()
    assert set(shipped) >= {"python", "static", "procfile"}
    for path in shipped.values():
        for script in ("detect", "compile", "release"):
            assert (path / "bin" / script).is_file()


SHIPPED = ["go", "java", "node", "php", "procfile", "python", "ruby", "static"]


def test_without_a_choice_the_shipped_buildpacks_detect_in_order():
    selection = select({}, {}, SHIPPED)
    assert selection == Selection(True, ("python", "node", "ruby", "php", "go", "java", "static", "procfile"),
                                  "detection")
    assert build_command(selection) == ["/runner/build", "--detect",
                                        *(f"/tmp/buildpacks/{name}" for name in selection.entries)]


def test_buildpack_url_names_one_buildpack_built_in_or_fetched():
    for spec in ("nodejs", "heroku/nodejs", "https://github.com/heroku/heroku-buildpack-nodejs.git#v250",
                 "https://example.org/mirror/heroku-buildpack-nodejs"):
        assert select({}, {"BUILDPACK_URL": spec}, SHIPPED) == Selection(False, ("node",), "BUILDPACK_URL")
    selection = select({}, {"BUILDPACK_URL": "https://h/bp.git#v2"}, SHIPPED)
    assert build_command(selection) == ["/runner/build", "--fetch", "https://h/bp.git", "v2", f"{FETCHED_DIR}/0",
                                        "--all", f"{FETCHED_DIR}/0"]
    for refused in ("file:///srv/bp", "/srv/bp", "ssh://git@h/bp", "#main", "heroku/cobol"):  # a config set before the rule
        with pytest.raises(BuildFailed, match="BUILDPACK_URL"):
            select({}, {"BUILDPACK_URL": refused}, SHIPPED)


def test_dotenv_and_config_buildpack_url():
    assert dotenv_buildpack_url("A=1\nexport BUILDPACK_URL='heroku/go'\n") == "heroku/go"
    assert dotenv_buildpack_url('BUILDPACK_URL="https://h/bp.git"') == "https://h/bp.git"
    assert dotenv_buildpack_url("XBUILDPACK_URL=x\n# BUILDPACK_URL=y") is None
    files = {".env": b"BUILDPACK_URL=heroku/ruby\n", ".buildpacks": b"nodejs\n"}
    assert select(files, {}, SHIPPED).entries == ("ruby",)
    assert select(files, {"BUILDPACK_URL": "php"}, SHIPPED).entries == ("php",)  # the config wins


def test_dot_buildpacks_runs_each_in_order():
    text = b"# generate, then serve\nhttps://github.com/heroku/heroku-buildpack-nodejs\n\n  https://h/x.git#main \nheroku/python\n"
    selection = select({".buildpacks": text}, {}, SHIPPED)
    assert selection == Selection(False, ("node", ("https://h/x.git", "main"), "python"), ".buildpacks")
    assert selection.shipped() == ["node", "python"]
    assert build_command(selection, [("lib/sub", "a" * 40, "https://h/sub.git")]) == [
        "/runner/build", "--fetch", "https://h/x.git", "main", f"{FETCHED_DIR}/1",
        "--submodule", "lib/sub", "a" * 40, "https://h/sub.git",
        "--all", "/tmp/buildpacks/node", f"{FETCHED_DIR}/1", "/tmp/buildpacks/python"]


@pytest.mark.parametrize("text, message", [
    (b"nodejs\nnot a buildpack\n", ".buildpacks line 2: contains spaces"),
    (b"python\nheroku/cobol\n", ".buildpacks line 2: 'heroku/cobol' is not a built-in buildpack"),
    (b"file:///srv/bp\n", ".buildpacks line 1: 'file:///srv/bp' is a file:// URL"),
    (b"# nothing\n\n", ".buildpacks names no buildpack"),
    (b"\xff\xfe", ".buildpacks is not UTF-8"),
    (b"python\n" * 17, "at most 16"),
])
def test_a_bad_dot_buildpacks_is_refused_naming_the_line(text, message):
    with pytest.raises(BuildFailed) as refused:
        select({".buildpacks": text}, {}, SHIPPED)
    assert message in str(refused.value)


def test_tools_tar_has_executable_scripts_and_byte_exact_env():
    data = build_tools_tar({"python": shipped_buildpacks()["python"]}, {"MULTI": "a\nb=c 'q' ü", "not a name": "x"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert tar.getmember("runner/build").mode & 0o111
        assert tar.getmember("tmp/buildpacks/python/bin/compile").mode & 0o111
        assert tar.extractfile("tmp/env/MULTI").read() == "a\nb=c 'q' ü".encode()
    assert not any("not a name" in name for name in names)


def test_plan_build_kinds_and_procfile():
    assert plan_build({}, {}, SHIPPED).kind == "buildpack"
    plan = plan_build({"Dockerfile": b"FROM x", "Procfile": b"web: run"}, {}, SHIPPED)
    assert plan == BuildPlan("dockerfile", {"web": "run"}, None)
    # A Dockerfile app that chose buildpacks builds with them (Dokku's rule)
    assert plan_build({"Dockerfile": b"FROM x", ".buildpacks": b"python\n"}, {}, SHIPPED).kind == "buildpack"
    assert plan_build({"Dockerfile": b"FROM x"}, {"BUILDPACK_URL": "heroku/go"}, SHIPPED).kind == "buildpack"


def test_procfile_wins_over_defaults():
    assert process_types(BuildPlan("buildpack", {"web": "a"}, None), {"web": "b", "x": "c"}) == {"web": "a"}
    assert process_types(BuildPlan("dockerfile", None, None), {"cmd": "python3 s.py"}) == {"cmd": "python3 s.py"}
