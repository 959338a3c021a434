"""Buildpack apps run as the stack's unprivileged user, which owns the slug (pure parts)."""
import io
import tarfile

from builder.slug import IMAGE_CHANGES, write_owned_by_run_user
from builder.stack import RUN_UID, RUN_USER, with_run_user


def test_the_run_user_is_added_once():
    passwd, group = with_run_user("root:x:0:0:root:/root:/bin/bash\n", "root:x:0:\n")
    assert passwd.splitlines()[-1] == f"{RUN_USER}:x:{RUN_UID}:{RUN_UID}::/app:/bin/bash"
    assert group.splitlines()[-1] == f"{RUN_USER}:x:{RUN_UID}:"
    assert with_run_user(passwd, group) == (passwd, group)


def test_slug_members_are_owned_by_the_run_user_and_the_image_runs_as_it():
    source = io.BytesIO()
    with tarfile.open(fileobj=source, mode="w") as tar:
        directory = tarfile.TarInfo("app")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        data = b"print('hi')\n" * 5000
        info = tarfile.TarInfo("app/app.py")
        info.size, info.mode = len(data), 0o640
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("app/current")
        link.type, link.linkname = tarfile.SYMTYPE, "app.py"
        tar.addfile(link)
    raw = source.getvalue()
    out = io.BytesIO()
    write_owned_by_run_user((raw[i:i + 1000] for i in range(0, len(raw), 1000)), out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["app", "app/app.py", "app/current"] and members[0].isdir()
        assert {(m.uid, m.gid, m.uname) for m in members} == {(RUN_UID, RUN_UID, RUN_USER)}
        assert tar.extractfile("app/app.py").read() == data and members[1].mode == 0o640
        assert members[2].linkname == "app.py"
    assert f"USER {RUN_UID}:{RUN_UID}" in IMAGE_CHANGES
