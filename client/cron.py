"""deis cron:list, cron:run: the cron jobs of the app's app.json."""
from __future__ import annotations

import sys
import time
from urllib.parse import quote

import click

from client.base import api, app_option, cli, heading, json_option, print_json, resolve_app, shortcut, table
from client.errors import ClientError

PICKUP_TIMEOUT = 30  # seconds a queued run may wait for the cron component before we stop waiting
POLL = 1.0


def _path(app: str | None, rest: str = "") -> tuple[str, str]:
    name = resolve_app(app)
    return name, f"/apps/{quote(name, safe='')}/cron{rest}"


@cli.command("cron:list")
@app_option
@json_option
def cron_list(app, as_json):
    """List the app's cron jobs (app.json's "cron"): schedule, command, next run (UTC), last exit code."""
    name, path = _path(app)
    found = api().get(path)
    if as_json:
        return print_json(found["results"])
    heading(f"{name} Cron Jobs")
    if not found["results"]:
        return click.echo("no cron jobs (add a \"cron\" list to app.json and push)")
    table([[j["id"], j["schedule"], j["command"], j["next_run"],
            "running" if j["running"] else ("" if j["last_exit_code"] is None else j["last_exit_code"])]
           for j in found["results"]], ["ID", "SCHEDULE", "COMMAND", "NEXT RUN", "LAST EXIT"])


@cli.command("cron:run")
@click.argument("job_id", metavar="ID")
@click.option("--no-wait", is_flag=True, help="return once the run is queued")
@app_option
def cron_run(job_id, no_wait, app):
    """Run the cron job ID now (its output goes to 'deis logs'); exit with its exit code."""
    name, path = _path(app)
    client = api()
    queued = client.post(f"{path}/{quote(job_id, safe='')}/run")
    run = queued["run"]
    click.echo(f"Running cron job {job_id} of {name} on v{queued['release']} (run {run}): {queued['command']}")
    click.echo(f"Its output goes to 'deis logs' as {name}[cron.{job_id}].")
    if no_wait:
        return
    asked, seen = time.monotonic(), False
    while True:
        time.sleep(POLL)
        job = next((j for j in client.get(path)["results"] if j["id"] == job_id), None)
        if job is None:
            raise ClientError(f"cron job {job_id} is gone from {name} (deployed since?): see 'deis logs'")
        if job["last_run_id"] == run:
            seen = True
            if job["last_finished"] and job["last_exit_code"] is None:
                raise ClientError(f"run {run} could not start: 'deis logs' says why")
            if job["last_finished"]:
                click.echo(f"run {run} exited with code {job['last_exit_code']}")
                sys.exit(job["last_exit_code"])
        elif seen:  # a newer run took the record over: ours has ended
            return click.echo(f"run {run} ended: 'deis logs' says how")
        elif time.monotonic() - asked > PICKUP_TIMEOUT:
            raise ClientError(f"run {run} is still queued after {PICKUP_TIMEOUT} s: is the cron component up "
                              "('deisctl status')?")


shortcut("cron", "cron:list")
