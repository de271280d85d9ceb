"""A service over the bundled model, shared by the API tests."""
import pytest
from fastapi.testclient import TestClient

from common.paths import BUNDLED_MODEL
from serve import cli


@pytest.fixture(scope="module")
def app():
    args = cli.build_parser().parse_args(["--max-upload-mb", "1", "--max-pixels", "4000000"])
    args.command = "test"
    return cli.build_app(args)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def model_name():
    """What clients see of the bundled model: its file name, never the path on the server."""
    return BUNDLED_MODEL.name
