from __future__ import annotations

from fastapi.testclient import TestClient

from db.models import User
from tests.factories import PASSWORD


def auth(api: TestClient, user: User) -> dict[str, str]:
    response = api.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
