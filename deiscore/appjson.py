"""``app.json``, the file Dokku and Heroku read beside the Procfile: parsed and checked once, here.

The builder parses it at the push (a malformed one rejects the push with the error's line and column)
and sends the sections the platform uses with the build; the controller normalizes them (the same
rules, :func:`normalize`) and keeps them with the build. What the platform uses of it:

- ``scripts.dokku.predeploy``: run in the new image before the cutover, its filesystem changes kept in
  the release's image; ``scripts.dokku.postdeploy`` and Heroku's ``scripts.postdeploy``: after it;
- ``healthchecks``: Dokku's checks per process type (startup, readiness, liveness);
- ``formation``: the initial scale of process types the app has not been scaled for yet;
- ``env``: defaults for config keys the app does not have (``value``, ``generator: secret``;
  ``required`` keys without a value must be set);
- ``cron``: commands run on a schedule, each as a one-off container of the current release.

Comments are allowed as Dokku allows them (``//`` to the end of the line, ``/* ... */``); other keys
(name, description, addons, ...) are ignored.
"""
from __future__ import annotations

import hashlib
import json
from typing import Mapping

from deiscore import validation
from deiscore.errors import InvalidInput

HEALTHCHECK_TYPES = ("startup", "readiness", "liveness")
CONCURRENCY_POLICIES = ("allow", "forbid", "replace")  # Dokku's names
CRON_KEYWORDS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
SECTIONS = ("scripts", "healthchecks", "formation", "env", "cron")
MAX_TEXT = 1 << 20  # bytes of app.json
# Dokku's defaults for a check (docker-container-healthchecker)
CHECK_DEFAULTS = {"attempts": 3, "wait": 5.0, "timeout": 5.0, "initial_delay": 0.0}


class AppJsonError(InvalidInput):
    """app.json cannot be used; ``detail`` says where and why ("app.json line 3, column 5: ...")."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None):
        where = f"app.json line {line}, column {column}" if line is not None else "app.json"
        super().__init__("app.json", None, reason, detail=f"{where}: {reason}")
        self.line, self.column = line, column


def strip_comments(text: str) -> str:
    """``text`` with ``//`` and ``/* */`` comments outside strings blanked out; every other character
    (and every newline) stays where it was, so JSON errors keep their line and column."""
    out, i, n = [], 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                raise AppJsonError("unterminated /* comment", line, i - text.rfind("\n", 0, i))
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:end + 2]))
            i = end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def parse(data: bytes | str) -> dict:
    """The sections of app.json the platform uses (:data:`SECTIONS`), as written, once :func:`normalize`
    accepts them; or :class:`AppJsonError`. This is what a build carries to the controller."""
    if isinstance(data, bytes):
        if len(data) > MAX_TEXT:
            raise AppJsonError(f"the file is larger than {MAX_TEXT // 1024} KiB")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AppJsonError(f"not UTF-8 (byte {exc.start})") from None
    try:
        raw = json.loads(strip_comments(data))
    except json.JSONDecodeError as exc:
        raise AppJsonError(exc.msg, exc.lineno, exc.colno) from None
    if not isinstance(raw, dict):
        raise AppJsonError("the top level must be an object")
    used = {key: raw[key] for key in SECTIONS if key in raw}
    normalize(used)  # refuses what the platform could not use, at the push
    return used


def normalize(raw) -> dict:
    """The parts of a parsed app.json the platform uses, checked and in one shape:
    ``{"scripts": {"predeploy", "postdeploy"}, "healthchecks": {type: [check]}, "formation": {type: n},
    "env": {key: {"value", "required", "generator"}}, "cron": [{"id", "command", "schedule", "concurrency"}]}``."""
    if raw is None:
        return empty()
    if not isinstance(raw, Mapping):
        raise AppJsonError("the top level must be an object")
    return {"scripts": _scripts(raw.get("scripts")), "healthchecks": _healthchecks(raw.get("healthchecks")),
            "formation": _formation(raw.get("formation")), "env": _env(raw.get("env")),
            "cron": _cron(raw.get("cron"))}


def empty() -> dict:
    return {"scripts": {"predeploy": None, "postdeploy": None}, "healthchecks": {}, "formation": {}, "env": {},
            "cron": []}


# -- sections ----------------------------------------------------------------------------------------------

def _object(value, where: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AppJsonError(f"{where} must be an object")
    return value


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AppJsonError(f"{where} must be a list")
    return value


def _command(value, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > 4096:
        raise AppJsonError(f"{where} must be a non-empty command of at most 4096 characters")
    return value


def _scripts(value) -> dict:
    scripts = _object(value, "scripts")
    dokku = _object(scripts.get("dokku"), "scripts.dokku")
    postdeploy = _command(dokku.get("postdeploy"), "scripts.dokku.postdeploy")
    heroku = _command(scripts.get("postdeploy"), "scripts.postdeploy")
    if postdeploy and heroku and postdeploy != heroku:
        raise AppJsonError("scripts.postdeploy and scripts.dokku.postdeploy differ: keep one of them")
    return {"predeploy": _command(dokku.get("predeploy"), "scripts.dokku.predeploy"),
            "postdeploy": postdeploy or heroku}


def _number(check: Mapping, key: str, where: str, low: float, high: float, whole: bool = False):
    value = check[key]
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or not low <= value <= high:
        kind = "a whole number" if whole else "a number of seconds"
        raise AppJsonError(f"{where}.{key} must be {kind} from {low:g} to {high:g}, got {value!r}")
    return value


def _healthchecks(value) -> dict:
    checks = {}
    for ptype, entries in _object(value, "healthchecks").items():
        try:
            validation.process_type(ptype)
        except InvalidInput as exc:
            raise AppJsonError(f"healthchecks: {exc.detail}") from None
        checks[ptype] = [_healthcheck(ptype, i, entry) for i, entry in enumerate(_list(entries, f"healthchecks.{ptype}"))]
    return checks


def _healthcheck(ptype: str, index: int, check) -> dict:
    where = f"healthchecks.{ptype}[{index}]"
    if not isinstance(check, Mapping):
        raise AppJsonError(f"{where} must be an object")
    kind = check.get("type", "startup")
    if kind not in HEALTHCHECK_TYPES:
        raise AppJsonError(f"{where}.type {kind!r} is not a health check type: one of {', '.join(HEALTHCHECK_TYPES)}")
    result = {"type": kind, "name": check.get("name") or f"{ptype} check {index + 1}",
              "path": None, "content": None, "uptime": None, **CHECK_DEFAULTS}
    if not isinstance(result["name"], str) or len(result["name"]) > 200:
        raise AppJsonError(f"{where}.name must be a string of at most 200 characters")
    path = check.get("path")
    if path is not None:
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 2048 or any(
                c.isspace() or ord(c) < 32 for c in path):
            raise AppJsonError(f"{where}.path must start with / and contain no whitespace, got {path!r}")
        if ptype != "web":
            raise AppJsonError(f"{where}.path: only web processes answer HTTP checks")
        result["path"] = path
    content = check.get("content")
    if content is not None:
        if not isinstance(content, str) or not content or len(content) > 4096:
            raise AppJsonError(f"{where}.content must be a non-empty string")
        if path is None:
            raise AppJsonError(f"{where}.content needs a path to fetch")
        result["content"] = content
    for key, name, low, high, whole in (("attempts", "attempts", 1, 100, True), ("wait", "wait", 0, 300, False),
                                        ("timeout", "timeout", 0.01, 300, False),
                                        ("initialDelay", "initial_delay", 0, 300, False),
                                        ("uptime", "uptime", 0, 300, False)):
        if check.get(key) is not None:
            result[name] = _number(check, key, where, low, high, whole)
    unknown = sorted(set(check) - {"type", "name", "description", "path", "content", "attempts", "wait", "timeout",
                                   "initialDelay", "uptime", "port", "listening", "warn"})
    if unknown:
        raise AppJsonError(f"{where}: unknown setting {unknown[0]!r}")
    if result["path"] is None and result["uptime"] is None and kind != "startup":
        raise AppJsonError(f"{where}: a {kind} check needs a path")
    return result


def _formation(value) -> dict:
    formation = {}
    for ptype, entry in _object(value, "formation").items():
        try:
            validation.procfile_type(ptype)
            entry = _object(entry, f"formation.{ptype}")
            formation[ptype] = validation.scale_count(ptype, entry.get("quantity", 1))
        except InvalidInput as exc:
            raise AppJsonError(f"formation: {exc.detail}") from None
    return formation


def _env(value) -> dict:
    env = {}
    for key, entry in _object(value, "env").items():
        if isinstance(entry, str):
            entry = {"value": entry}
        entry = _object(entry, f"env.{key}")
        try:
            validation.config_key(key)
            default = entry.get("value")
            if default is not None:
                if not isinstance(default, str):
                    raise AppJsonError(f"env.{key}.value must be a string")
                validation.config_value(key, default)
        except InvalidInput as exc:
            raise AppJsonError(f"env: {exc.detail}") from None
        generator = entry.get("generator")
        if generator not in (None, "secret"):
            raise AppJsonError(f"env.{key}.generator {generator!r} is not known: the one generator is 'secret'")
        required = entry.get("required", False)
        if not isinstance(required, bool):
            raise AppJsonError(f"env.{key}.required must be true or false")
        env[key] = {"value": default, "required": required, "generator": generator}
    return env


def cron_schedule(schedule) -> str:
    """A schedule of five fields (minute hour day month weekday) or a keyword such as ``@daily``."""
    from croniter import croniter

    if not isinstance(schedule, str) or len(schedule) > 200:
        raise AppJsonError(f"cron schedule {schedule!r} must be a string")
    text = " ".join(schedule.split())
    if text.startswith("@"):
        if text not in CRON_KEYWORDS:
            raise AppJsonError(f"cron schedule {schedule!r}: unknown keyword (known: {', '.join(CRON_KEYWORDS)})")
        return text
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise AppJsonError(f"cron schedule {schedule!r} does not parse: use five fields "
                           "(minute hour day-of-month month day-of-week) or a keyword such as @daily")
    return text


def cron_id(command: str, schedule: str) -> str:
    """A job's id: stable across deploys while its command and schedule stay the same."""
    return hashlib.sha256(f"{schedule}\n{command}".encode()).hexdigest()[:10]


def _cron(value) -> list:
    jobs, seen = [], set()
    for index, entry in enumerate(_list(value, "cron")):
        where = f"cron[{index}]"
        entry = _object(entry, where)
        command = _command(entry.get("command"), f"{where}.command")
        if command is None:
            raise AppJsonError(f"{where}.command is missing")
        schedule = cron_schedule(entry.get("schedule"))
        policy = entry.get("concurrency_policy", "allow")
        if policy not in CONCURRENCY_POLICIES:
            raise AppJsonError(f"{where}.concurrency_policy {policy!r}: one of {', '.join(CONCURRENCY_POLICIES)}")
        job_id = cron_id(command, schedule)
        if job_id in seen:
            raise AppJsonError(f"{where} repeats an earlier job (same command and schedule)")
        seen.add(job_id)
        jobs.append({"id": job_id, "command": command, "schedule": schedule, "concurrency_policy": policy})
    return jobs
