"""The router: nginx as the data plane, configured from routes rendered by a pure function."""
from router.errors import ConfigRejected, HostnameConflict, InvalidRoute, NginxError, RouterError
from router.routes import Route, RouteSettings, make_route
from router.router import Router, start, stop

__all__ = ["ConfigRejected", "HostnameConflict", "InvalidRoute", "NginxError", "Route", "RouteSettings",
           "Router", "RouterError", "make_route", "start", "stop"]
