"""WSGI entry point: ``gunicorn controller.wsgi:application``."""
import logging

from controller.app import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
application = create_app()
