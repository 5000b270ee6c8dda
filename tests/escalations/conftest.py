import pytest


@pytest.fixture
def other_instance(settings):
    """A second instance of the app on the same database, as another server process would be: its reports go
    through an intake of their own (an operation's reports wait for each other's batch only within one instance)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as other:
        yield other
