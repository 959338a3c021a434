"""The scheduler: runs releases as containers on hosts with zero-downtime cutover, and repairs them."""
from scheduler.containers import Container
from scheduler.errors import DeployError, HostError, InvalidSpec, SchedulerError, Superseded
from scheduler.hosts import Host
from scheduler.placement import Slot, converge, place
from scheduler.scheduler import DeployResult, ProcessStatus, Scheduler, platform_id
from scheduler.spec import HealthCheck, ReleaseSpec

__all__ = ["Container", "DeployError", "DeployResult", "HealthCheck", "Host", "HostError", "InvalidSpec",
           "ProcessStatus", "ReleaseSpec", "Scheduler", "SchedulerError", "Slot", "Superseded", "converge",
           "place", "platform_id"]
