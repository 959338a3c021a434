"""The Java buildpack, run as the builder runs it (the stack's build image, the build container's hardening):
an offline Maven build from the stack's own Maven repository, and the bad input that must fail with a clear
message naming what could not be had."""
from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.buildpacks import SHIPPED_DIR
from builder.slug import BUILD_HARDENING

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUNNER_INIT = Path(__file__).resolve().parents[2] / "builder" / "runner" / "init"
# A package of the npm registry (reachable from builds) that ships a real Gradle wrapper: gradlew,
# gradle-wrapper.jar and gradle-wrapper.properties.
GRADLE_WRAPPER_PACKAGE = "@react-native-community/template@0.76.0"


@dataclass
class Compiled:
    status: int
    output: str
    app: Path

    @property
    def errors(self) -> str:
        return "\n".join(line for line in self.output.splitlines() if line.startswith(" !     "))

    @property
    def release(self) -> str:
        return self.output.split("=== release\n")[1]


def run_in(docker_client, image: str, script: str, volumes: dict) -> tuple[int, str]:
    container = docker_client.containers.run(image, ["bash", "-c", script], volumes=volumes, detach=True,
                                             **BUILD_HARDENING)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return status, container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)


def compile_app(docker_client, image: str, app: Path, cache: Path) -> Compiled:
    """detect, compile, release of builder/buildpacks/java on ``app`` (changed in place)."""
    env = app.parent / f"{app.name}-env"
    env.mkdir(exist_ok=True)
    cache.mkdir(exist_ok=True)
    bin_dir = "/tmp/buildpacks/java/bin"
    script = (f"{bin_dir}/detect /app && {bin_dir}/compile /app /tmp/cache /tmp/env"
              f" && echo '=== release' && {bin_dir}/release /app")
    status, output = run_in(docker_client, image, script, {
        str(app): {"bind": "/app", "mode": "rw"}, str(cache): {"bind": "/tmp/cache", "mode": "rw"},
        str(env): {"bind": "/tmp/env", "mode": "ro"}, str(SHIPPED_DIR): {"bind": "/tmp/buildpacks", "mode": "ro"}})
    return Compiled(status, output, app)


def maven_app(tmp_path: Path, edit=None, files: dict[str, str] | None = None) -> Path:
    """A copy of examples/java-maven, its pom.xml passed through ``edit``, plus ``files``."""
    app = tmp_path / "app"
    shutil.copytree(EXAMPLES / "java-maven", app)
    if edit:
        pom = app / "pom.xml"
        pom.write_text(edit(pom.read_text()))
    for name, text in (files or {}).items():
        (app / name).write_text(text)
    return app


@pytest.fixture(scope="module")
def java_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("java-cache")  # shared: the builds after the first are warm


def test_maven_app_builds_offline_from_the_stacks_plugins_and_runs_its_jar(docker_client, build_image, run_image,
                                                                         java_cache, tmp_path):
    result = compile_app(docker_client, build_image, maven_app(tmp_path), java_cache)
    assert result.status == 0, result.output
    assert "-----> Building with Maven 3." in result.output
    assert "BUILD SUCCESS" in result.output and "\x1b[" not in result.output
    assert (result.app / "target" / "app.jar").is_file()
    assert "-----> Runnable jar: target/app.jar" in result.output
    assert result.release == ("---\ndefault_process_types:\n"
                              "  web: java -Dserver.port=$PORT $JAVA_OPTS -jar target/app.jar\n")
    assert "-XX:MaxRAMPercentage=75" in (result.app / ".profile.d" / "java.sh").read_text()
    # the plugins are in the cached local repository, not in the slug
    assert (java_cache / "java" / "m2" / "org" / "apache" / "maven" / "plugins" / "maven-jar-plugin").is_dir()

    # The default web command, on the run image's JRE, as the run user, through the runner's entrypoint.
    web = result.release.split("web: ", 1)[1].strip()
    serve = (f"/runner/init {shlex.quote(web)} & for i in $(seq 100); do"
             " curl -sf http://127.0.0.1:5000/ && exit 0; sleep 0.1; done; exit 1")
    container = docker_client.containers.run(
        run_image, ["bash", "-c", serve], detach=True, user="1000:1000",
        environment={"PORT": "5000", "DEIS_APP": "javatest"},
        volumes={str(result.app): {"bind": "/app", "mode": "ro"},
                 str(RUNNER_INIT): {"bind": "/runner/init", "mode": "ro"}})
    try:
        status = container.wait(timeout=60)["StatusCode"]
        output = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    assert status == 0 and "Hello from Java javatest" in output, output


def test_a_jar_without_main_class_gives_no_default_process(docker_client, build_image, java_cache, tmp_path):
    def without_main_class(pom: str) -> str:
        start, end = pom.index("<configuration>"), pom.index("</configuration>") + len("</configuration>")
        return pom[:start] + pom[end:]

    result = compile_app(docker_client, build_image, maven_app(tmp_path, edit=without_main_class), java_cache)
    assert result.status == 0, result.output
    assert (result.app / "target" / "app.jar").is_file()
    assert "No single runnable jar (Main-Class) in target/ or build/libs/: name your processes in a Procfile" \
        in result.output
    assert result.release == "---\ndefault_process_types: {}\n"


def test_malformed_pom_fails_with_mavens_line_and_column(docker_client, build_image, java_cache, tmp_path):
    app = maven_app(tmp_path, edit=lambda pom: pom.replace("</artifactId>", "</artifactid>", 1))
    result = compile_app(docker_client, build_image, app, java_cache)
    assert result.status != 0
    assert "Non-parseable POM pom.xml: end tag name </artifactid>" in result.errors, result.output
    assert "@ line 10, column" in result.errors
    assert " !     Maven build failed" in result.output


def test_a_dependency_only_on_the_network_repository_fails_naming_it_and_the_repository(
        docker_client, build_image, java_cache, tmp_path):
    dependency = ("<dependencies><dependency><groupId>com.google.code.gson</groupId><artifactId>gson</artifactId>"
                  "<version>2.10.1</version></dependency></dependencies>\n  <build>")
    app = maven_app(tmp_path, edit=lambda pom: pom.replace("<build>", dependency, 1))
    result = compile_app(docker_client, build_image, app, java_cache)
    assert result.status != 0
    # Maven's own words: the artifact and the repository it tried (the super POM's "central")
    assert "Could not transfer artifact com.google.code.gson:gson:pom:2.10.1 from/to central (https://" \
        in result.errors, result.output
    assert "only the plugins and libraries the stack packages (/usr/share/maven-repo)" in result.errors


def test_a_java_version_the_stack_does_not_have_is_refused(docker_client, build_image, java_cache, tmp_path):
    app = maven_app(tmp_path, files={"system.properties": "java.runtime.version=21\n"})
    result = compile_app(docker_client, build_image, app, java_cache)
    assert result.status != 0
    assert "system.properties asks for java.runtime.version=21; this stack has only OpenJDK 17." in result.errors
    assert not (app / "target").exists()


@pytest.fixture(scope="module")
def gradle_wrapper(docker_client, build_image, tmp_path_factory) -> Path:
    """A real Gradle wrapper (gradlew, gradle/wrapper/*), unpacked from an npm package in the build image."""
    work = tmp_path_factory.mktemp("gradle-wrapper")
    script = (f"cd /work && npm pack --silent {GRADLE_WRAPPER_PACKAGE} > name && tar xzf \"$(cat name)\""
              " && mkdir wrapper && cp -r package/template/android/gradlew package/template/android/gradle wrapper/")
    status, output = run_in(docker_client, build_image, script, {str(work): {"bind": "/work", "mode": "rw"}})
    assert status == 0, output
    return work / "wrapper"


def test_gradle_wrapper_app_fails_naming_the_distribution_url(docker_client, build_image, gradle_wrapper,
                                                              java_cache, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(gradle_wrapper / "gradlew", app / "gradlew")
    shutil.copytree(gradle_wrapper / "gradle", app / "gradle")
    (app / "build.gradle").write_text("plugins { id 'java' }\n")
    properties = (app / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    url = next(line.split("=", 1)[1] for line in properties.splitlines() if line.startswith("distributionUrl="))
    url = url.replace("\\:", ":")
    result = compile_app(docker_client, build_image, app, java_cache)
    assert result.status != 0
    assert "-----> Building with the Gradle wrapper" in result.output
    assert f"The Gradle wrapper (gradlew) could not download Gradle from {url}" in result.errors, result.output


def test_an_incomplete_gradle_wrapper_is_named(docker_client, build_image, java_cache, tmp_path):
    app = tmp_path / "app"
    (app / "gradle" / "wrapper").mkdir(parents=True)
    (app / "gradlew").write_text("#!/bin/sh\n")
    (app / "build.gradle.kts").write_text("plugins { java }\n")
    result = compile_app(docker_client, build_image, app, java_cache)
    assert result.status != 0
    assert "gradlew is present but gradle/wrapper/gradle-wrapper.properties is missing" in result.errors, \
        result.output
