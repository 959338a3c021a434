"""A minimal Flask app: the sample the builder's tests and benchmark push."""
import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return f"Hello from {os.environ.get('DEIS_APP', 'python-web')} (release {os.environ.get('DEIS_RELEASE', '?')})\n"


@app.route("/healthz")
def healthz():
    return "ok\n"
