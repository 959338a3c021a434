"""Client errors: shown to the user as ``Error: <message>`` with a non-zero exit."""
import click


class ClientError(click.ClickException):
    exit_code = 1
