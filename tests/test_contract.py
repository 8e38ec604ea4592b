"""The OpenAPI document tells the truth: Schemathesis (`schemathesis run --checks all`) against
a real gunicorn over the demo data finds no failure, for each role's token and for no token.

Each role's run covers the operations the document says the role may call; the 403 of the others
is pinned, operation by operation, by test_role_matrix. Without a token every operation is
called, fewer times: each must answer the documented 401. What Schemathesis may not hold the
server to is written, with the reason, in `schemathesis.toml`. The run is bounded (a few examples
per operation, a fixed seed) so that it fits in every CI leg."""

import os
import re
import subprocess
import sys
import tempfile

import pytest

from ops.cli import DEMO_USERS
from tests import servers
from tests.databases import scratch_database

pytestmark = pytest.mark.server

EXAMPLES_PER_OPERATION = 3
SEED = "20261203"
PASSWORDS = {username: password for username, _, password, _ in DEMO_USERS}


@pytest.fixture(scope="module")
def demo_server(database_url):
    # The photos a run uploads go to a folder of its own, not the instance folder.
    with (
        tempfile.TemporaryDirectory() as photos,
        pytest.MonkeyPatch.context() as patch,
        scratch_database(database_url) as url,
    ):
        patch.setenv("PHOTO_FOLDER", photos)
        app = servers.prepared_app(url)
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["seed", "--demo"])
        assert result.exit_code == 0, result.output
        servers.dispose(app)
        with servers.gunicorn_server(url) as server:
            yield server


def schemathesis(server, *, role: str | None, token: str | None, own_user_id: int = 0):
    """(exit code, output) of one run."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.base_url}/api/openapi.json",
        "--checks", "all", "--seed", SEED, "--no-color",
        # Signing out is tested as a rule (test_auth); here it would end the run's own token.
        "--exclude-name", "DELETE /api/auth/token",
    ]  # fmt: skip
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
        command += ["--max-examples", str(EXAMPLES_PER_OPERATION)]
        for name in operations_for(server, role):
            command += ["--include-name", name]
    else:
        command += ["--max-examples", "2", "--phases", "examples,fuzzing"]
    env = {**os.environ, "CONTRACT_OWN_USER_ID": str(own_user_id)}
    run = subprocess.run(
        command, cwd=servers.ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    return run.returncode, run.stdout + run.stderr


def summary(output: str) -> str:
    """The figures of a run: cases generated, passed or failed."""
    lines = [line.strip() for line in output.splitlines() if re.search(r"generated|❌", line)]
    return " | ".join(lines)


def operations_for(server, role: str) -> list[str]:
    """ "GET /api/lots"... of every operation the document says `role` may call (its
    description ends "For admin, pharmacist."), and those open to anyone."""
    status, document = server.request("GET", "/api/openapi.json")
    assert status == 200
    names = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue  # the path's own parameters
            said = re.search(r"For ([a-z, ]+)\.\s*$", operation.get("description", ""))
            if said is None or role in said.group(1).split(", "):
                names.append(f"{method.upper()} {path}")
    return names


def own_id(server, token: str) -> int:
    status, users = server.request("GET", "/api/users?page_size=50", token=token)
    assert status == 200
    return next(user["id"] for user in users if user["username"] == "admin")


# The admin runs last: it may deactivate the other demo users, ending their tokens.
@pytest.mark.parametrize("username", ["anonymous", "pharmacist", "doctor", "admin"])
def test_the_server_does_what_its_openapi_document_says(demo_server, username):
    token = None if username == "anonymous" else demo_server.token(username, PASSWORDS[username])
    own_user_id = own_id(demo_server, token) if username == "admin" else 0
    code, output = schemathesis(demo_server, role=username, token=token, own_user_id=own_user_id)
    print(f"{username}: {summary(output)}")
    assert code == 0, output[-20000:]
    assert re.search(r"\d+ generated, \d+ passed", output), output[-5000:]
