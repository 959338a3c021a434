"""Dockerfile builds: which config vars a build is offered (declared ARGs only), the web port and
ENTRYPOINT an image brings, plain-text build output, and build-arg values taken out of an image's
history (on the real engine)."""
from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest

from builder.buildlog import iter_lines, strip_ansi
from builder.dockerfile import (build_args, build_dockerfile_image, declared_args, image_command,
                                image_entrypoint, image_port, instructions, scrub_config)


def test_declared_args_in_every_stage_with_defaults_continuations_and_any_case():
    text = """# syntax=docker/dockerfile:1
ARG BASE=deis/stack:bookworm
FROM $BASE AS build
arg SECRET_KEY
  Arg  WITH_DEFAULT="a b" \\
       SECOND=2
# ARG COMMENTED
RUN echo "ARG NOT_AN_ARG=1"
ENV ARG_LIKE=1
FROM deis/stack:bookworm
ARG \\
    CONTINUED
ARG
"""
    assert declared_args(text) == {"BASE", "SECRET_KEY", "WITH_DEFAULT", "SECOND", "CONTINUED"}


def test_instructions_join_continuations_across_comments_and_follow_the_escape_directive():
    assert instructions("RUN a \\\n# note\n  b\nCMD c\n") == ["RUN a   b", "CMD c"]
    assert instructions("# escape=`\nARG A `\n  B\nRUN x\\\n") == ["ARG A   B", "RUN x\\"]
    assert declared_args("# escape=`\nARG A `\n  B\n") == {"A", "B"}


def test_only_declared_args_are_offered_and_never_platform_or_path_keys():
    text = "FROM x\nARG SECRET_KEY\nARG PATH\nARG DEIS_APP\nARG PORT\nARG LD_PRELOAD\nARG EMPTY\n"
    config = {"SECRET_KEY": "s3cr3t", "OTHER": "not offered", "PATH": "/evil", "DEIS_APP": "x", "PORT": "1",
              "LD_PRELOAD": "/evil.so", "EMPTY": ""}
    assert build_args(text, config) == {"SECRET_KEY": "s3cr3t", "EMPTY": ""}
    assert build_args("FROM x\n", config) == {}


def test_web_port_is_the_lowest_exposed_tcp_port():
    assert image_port({"ExposedPorts": {"8080/tcp": {}}}) == 8080
    assert image_port({"ExposedPorts": {"9000/tcp": {}, "8080/tcp": {}, "53/udp": {}}}) == 8080
    assert image_port({"ExposedPorts": {"53/udp": {}}}) is None
    assert image_port({"ExposedPorts": None}) is None
    assert image_port({}) is None


def test_entrypoint_and_command():
    assert image_entrypoint({"Entrypoint": ["/serve"], "Cmd": ["--port", "1"]})
    assert not image_entrypoint({"Entrypoint": None, "Cmd": ["python3", "app.py"]})
    assert not image_entrypoint({"Entrypoint": []})
    assert image_command({"Entrypoint": ["/serve"], "Cmd": ["--greeting", "hi there"]}) \
        == "/serve --greeting 'hi there'"


def test_ansi_escapes_are_stripped_from_build_lines():
    assert strip_ansi("\x1b[1;31mError\x1b[0m: \x1b[Kdone\x1b[2A") == "Error: done"
    assert strip_ansi("\x1b]0;title\x07text \x1b(B\x1b7x\x1b8") == "text x"
    assert strip_ansi("no [31m escapes") == "no [31m escapes"
    chunks = [b"\x1b[32mStep 1/2\x1b[0m\n\x1b[", b"33mwarn\x1b[0m\r\x1b[2Kprogress\n"]
    assert list(iter_lines(chunks)) == ["Step 1/2", "warn", "progress"]


def test_scrub_config_takes_values_out_of_history_and_build_commands():
    config = {"history": [{"created_by": "/bin/sh -c #(nop)  ARG SECRET_KEY"},
                          {"created_by": "|2 SECRET_KEY=s3 cr3t A=1 /bin/sh -c echo $SECRET_KEY"},
                          {"created_by": "/bin/sh -c #(nop) CMD [\"x\"]", "empty_layer": True}],
              "container_config": {"Cmd": ["|2", "SECRET_KEY=s3 cr3t", "A=1", "/bin/sh", "-c", "x"]},
              "config": {"Cmd": ["x"], "Env": ["KEEP=1"]}, "rootfs": {"diff_ids": ["sha256:1"]}}
    scrubbed = scrub_config(config, {"SECRET_KEY": "s3 cr3t", "A": "1"})
    assert [h["created_by"] for h in scrubbed["history"]][1] == "|2 SECRET_KEY A /bin/sh -c echo $SECRET_KEY"
    assert scrubbed["container_config"]["Cmd"] == ["|2", "SECRET_KEY", "A", "/bin/sh", "-c", "x"]
    assert scrubbed["rootfs"] == config["rootfs"] and scrubbed["config"] == config["config"]
    assert "s3 cr3t" not in json.dumps(scrubbed)
    assert "s3 cr3t" in json.dumps(config)  # never edited in place


def context_tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.slow
def test_a_build_gets_declared_args_and_its_history_keeps_no_value(docker_client, tmp_path):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    dockerfile = ("FROM deis/stack:bookworm\nARG SECRET_KEY\nARG UNUSED=default\n"
                  "RUN test \"$SECRET_KEY\" = \"" + secret + "\" && echo \"$SECRET_KEY\" | sha256sum > /digest\n"
                  "EXPOSE 9000 8080\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"hello\"]\n")
    dockerfile = dockerfile.replace(secret, "$EXPECTED")  # the value is only ever in the build arg
    dockerfile = dockerfile.replace("ARG UNUSED=default\n", "ARG UNUSED=default\nARG EXPECTED\n")
    (tmp_path / "context.tar").write_bytes(context_tar({"Dockerfile": dockerfile}))
    repository = f"deis-test-dockerfile-{uuid.uuid4().hex[:8]}"
    lines = []
    try:
        built = build_dockerfile_image(docker_client, context_tar=tmp_path / "context.tar", dockerfile=dockerfile,
                                       config={"SECRET_KEY": secret, "EXPECTED": secret, "NOT_DECLARED": "x"},
                                       repository=repository, tag="v1", emit=lines.append)
        assert (built.port, built.entrypoint, built.command) == (8080, True, "/bin/echo hello")
        history = docker_client.api.history(f"{repository}:v1")
        inspect = docker_client.api.inspect_image(f"{repository}:v1")
        assert secret not in json.dumps(history) and secret not in json.dumps(inspect)
        run_step = next(h["CreatedBy"] for h in history if "sha256sum" in (h.get("CreatedBy") or ""))
        assert run_step.startswith("|3 EXPECTED SECRET_KEY UNUSED=default /bin/sh -c "), run_step  # names only
        assert "-----> Build args from config: EXPECTED, SECRET_KEY" in lines
        assert not any("\x1b" in line for line in lines)
        assert not any("not consumed" in line or "were not" in line for line in lines)
        assert "-----> Web port 8080 (exposed by the image)" in lines
        # the layers are the ones the build made: the RUN step's file is there
        output = docker_client.containers.run(f"{repository}:v1", entrypoint=["cat", "/digest"], remove=True)
        assert len(output.split()[0]) == 64
        assert not [i for i in docker_client.api.images(all=True, quiet=True)
                    if secret in json.dumps(docker_client.api.history(i))]
    finally:
        try:
            docker_client.images.remove(f"{repository}:v1", force=True)
        except Exception:  # noqa: BLE001 - not built
            pass
