"""Buildpack ``bin/release`` output (YAML) and the registry's config file, read and written with PyYAML."""
import pytest
import yaml

from builder.buildpacks import parse_release
from builder.errors import BuildFailed
from builder.registry import render_config

# What real buildpacks print (Heroku's Ruby, Node.js, Python and PHP buildpacks, in their shapes).
RUBY = """---
addons:
- heroku-postgresql
config_vars:
  LANG: en_US.UTF-8
  RAILS_ENV: production
  RACK_ENV: production
default_process_types:
  rake: bundle exec rake
  console: bin/rails console
  web: bin/rails server -p ${PORT:-5000} -e $RAILS_ENV
  worker: bundle exec rake jobs:work
"""
NODE = "---\naddons: []\ndefault_process_types:\n  web: npm start\n"
PYTHON = """---
config_vars:
  PYTHONUNBUFFERED: "true"
  LANG: 'en_US.UTF-8'
default_process_types:
  web: "gunicorn app:app --bind 0.0.0.0:$PORT"
  worker: 'celery -A it''s worker'
  clock: python3 -m http.server "$PORT"
"""
PHP = "default_process_types:\n  web: heroku-php-apache2 -C conf/apache.conf  # the document root\n"


@pytest.mark.parametrize("text, types", [
    (RUBY, {"rake": "bundle exec rake", "console": "bin/rails console",
            "web": "bin/rails server -p ${PORT:-5000} -e $RAILS_ENV", "worker": "bundle exec rake jobs:work"}),
    (NODE, {"web": "npm start"}),
    (PYTHON, {"web": "gunicorn app:app --bind 0.0.0.0:$PORT", "worker": "celery -A it's worker",
              "clock": 'python3 -m http.server "$PORT"'}),
    (PHP, {"web": "heroku-php-apache2 -C conf/apache.conf"}),
    ("default_process_types: {web: 'python3 app.py', worker: \"sh -c 'x: y'\"}\n",
     {"web": "python3 app.py", "worker": "sh -c 'x: y'"}),
])
def test_default_process_types_of_real_buildpacks(text, types):
    assert parse_release(text) == types
    assert list(parse_release(text)) == list(types)  # in the buildpack's order


@pytest.mark.parametrize("text", [
    "", "---\n", "---\ndefault_process_types: {}\n", "default_process_types:\n",
    "---\naddons: []\nconfig_vars:\n  web: not-a-type\n",  # config vars are not process types
    "# only a comment\n",
])
def test_no_default_process_types(text):
    assert parse_release(text) == {}


@pytest.mark.parametrize("text, reason", [
    ("default_process_types:\n  web: 'unterminated\n", "invalid YAML"),
    ("default_process_types:\n\tweb: tabs\n", "invalid YAML"),
    ("{not: closed\n", "invalid YAML"),
    ("web: x\n  worker: y\n", "invalid YAML"),
    ("just some text the buildpack printed\n", "not a YAML mapping: 'just some text the buildpack printed'"),
    ("- web\n- worker\n", "not a YAML mapping: '- web\\n- worker'"),
    ("42\n", "not a YAML mapping: '42'"),
    ("default_process_types: [web, worker]\n", "not a mapping of process type to command"),
    ("default_process_types: npm start\n", "not a mapping of process type to command"),
    ("default_process_types:\n  we/b: x\n", "invalid process type 'we/b'"),
    ("default_process_types:\n  -web: x\n", "invalid process type '-web'"),
    ("default_process_types:\n  1: x\n", "invalid process type 1"),
    ("default_process_types:\n  web:\n", "'web' has no command"),
    ("default_process_types:\n  web: 5000\n", "'web' has no command"),
    ("default_process_types:\n  web: [npm, start]\n", "'web' has no command"),
    ("default_process_types:\n  web: !!python/object:os.system x\n", "invalid YAML"),  # safe_load only
])
def test_garbage_fails_the_build_with_the_reason(text, reason):
    with pytest.raises(BuildFailed) as info:
        parse_release(text)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)  # one line for the pushing user


def test_registry_config_round_trips_paths_that_need_quoting(tmp_path):
    storage = tmp_path / "odd: dir # with 'quotes'"
    config = yaml.safe_load(render_config(storage, 5123, tmp_path / "ht passwd"))
    assert config["version"] == "0.1"  # a string, as distribution wants it
    assert config["storage"]["filesystem"]["rootdirectory"] == str(storage)
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"]["addr"] == "127.0.0.1:5123"
    assert config["http"]["headers"] == {"X-Content-Type-Options": ["nosniff"]}
    assert config["auth"] == {"htpasswd": {"realm": "deis-registry", "path": str(tmp_path / "ht passwd")}}
    assert "auth" not in yaml.safe_load(render_config(storage, 5123, None))
