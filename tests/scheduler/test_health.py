"""The health check's failure names the container port the app should have listened on."""
import pytest

from deiscore.processes import free_port
from scheduler.health import Unhealthy, wait_healthy


def test_a_port_that_never_accepts_is_named():
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(Unhealthy, match=r"not healthy after 0.3s: port 8080 did not accept connections"):
        wait_healthy(lambda: closed, "app.test", None, 0.3, lambda: (True, "running"), port=8080)
