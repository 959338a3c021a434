"""The Ruby buildpack, run as the builder runs it: a Rack app on the stack's rack and webrick plus a path
gem (no gem server), run by bundle exec as the run user; and the bad input that must fail clearly."""
from __future__ import annotations

import subprocess

import pytest

from builder.buildpacks import SHIPPED_DIR, parse_release
from tests.builder.test_buildpack_go import app_from, compile_app, run_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ruby_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ruby-cache")


def test_rack_app_installs_offline_and_bundle_exec_works_as_the_run_user(docker_client, build_image, run_image,
                                                                        ruby_cache, tmp_path):
    result = compile_app(docker_client, build_image, "ruby", app_from(tmp_path, example="ruby-rack"), ruby_cache)
    assert result.status == 0, result.output
    assert "Using rack 2.2" in result.output and "Using greeting 1.0.0 from source at `gems/greeting`" in result.output
    assert result.output.split("=== release\n")[1] == \
        "---\ndefault_process_types:\n  web: bundle exec rackup -p $PORT -o 0.0.0.0\n"
    assert 'BUNDLE_FROZEN: "true"' in (result.app / ".bundle" / "config").read_text()
    # As the run user, from the slug only (the build's environment is gone): the profile sets it up.
    status, output = run_in(docker_client, build_image, "chown -R 1000:1000 /app", {
        str(result.app): {"bind": "/app", "mode": "rw"}})
    assert status == 0, output
    status, output = run_in(docker_client, run_image,
                            'cd /app && export HOME=/app && . .profile.d/ruby.sh && echo "$RACK_ENV" && '
                            'bundle exec ruby -e \'require "rack"; require "greeting"; print Greeting.for("x")\'',
                            {str(result.app): {"bind": "/app", "mode": "rw"}}, user="1000:1000")
    assert (status, output) == (0, "production\nHello from Ruby x\n"), output


def test_missing_gemfile_lock_says_to_run_bundle_lock(docker_client, build_image, ruby_cache, tmp_path):
    app = app_from(tmp_path, {"Gemfile": 'gem "rack"\n', "config.ru": "run ->(e) { [200, {}, []] }\n"})
    result = compile_app(docker_client, build_image, "ruby", app, ruby_cache)
    assert result.failed_with("Gemfile.lock is missing", "Run 'bundle lock'"), result.output


def test_malformed_gemfile_lock_fails_with_bundlers_message(docker_client, build_image, ruby_cache, tmp_path):
    app = app_from(tmp_path, example="ruby-rack")
    with open(app / "Gemfile.lock", "a") as lock:
        lock.write("<<<<<<< HEAD\n  rack (2.2.3)\n=======\n")
    result = compile_app(docker_client, build_image, "ruby", app, ruby_cache)
    assert result.failed_with("Your Gemfile.lock contains merge conflicts."), result.output
    assert "lockfile_parser.rb" not in result.output  # Bundler's message, not its backtrace


def test_a_gem_only_on_the_gem_server_fails_naming_gem_and_source(docker_client, build_image, ruby_cache, tmp_path):
    _, source = run_in(docker_client, build_image, "ruby -e 'print Gem.default_sources.first'", {})
    lock = (f"GEM\n  remote: {source}\n  specs:\n    rack (2.2.22)\n    tilt (2.1.0)\n\n"
            "PLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  rack (~> 2.2)\n  tilt (= 2.1.0)\n\n"
            "BUNDLED WITH\n   2.3.15\n")
    gemfile = 'source Gem.default_sources.first\ngem "rack", "~> 2.2"\ngem "tilt", "2.1.0"\n'
    app = app_from(tmp_path, {"Gemfile": gemfile, "Gemfile.lock": lock})
    result = compile_app(docker_client, build_image, "ruby", app, ruby_cache)
    assert result.failed_with(f"Could not install gem tilt (2.1.0) from {source}"), result.output
    assert "rack" not in "\n".join(line for line in result.output.splitlines() if line.startswith(" !"))


@pytest.mark.parametrize("files, web", [
    ({"config.ru": "", "bin/rails": "#!/usr/bin/env ruby\n"}, "bin/rails server -p $PORT -e $RAILS_ENV"),
    ({"config.ru": ""}, "bundle exec rackup -p $PORT -o 0.0.0.0"),
    ({"worker.rb": ""}, None),
])
def test_release_names_the_rails_or_rack_server(tmp_path, files, web):
    app = app_from(tmp_path, files)
    release = subprocess.run([str(SHIPPED_DIR / "ruby" / "bin" / "release"), str(app)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
    assert parse_release(release) == ({"web": web} if web else {})
