"""prbot registered with the forge for people's sign-in, as the platform's admin would do it:
a GitHub App with a callback URL, or a GitLab OAuth application."""

from __future__ import annotations

import httpx

from tests.support.forge import ForgeRepo, app_keypair

SIGN_IN_APP_ID = 5151


async def sign_in_client(
    forge_repo: ForgeRepo, platform: str, callback: str, *, app_id: int = SIGN_IN_APP_ID
) -> dict[str, str]:
    """The client's id and secret as ``prbot serve`` takes them (``GITHUB_CLIENT_ID``,
    ``GITHUB_CLIENT_SECRET``, or the GitLab pair)."""
    async with httpx.AsyncClient(base_url=forge_repo.server.url, timeout=10) as admin:
        if platform == "github":
            answer = await admin.post(
                "/_forge/apps",
                json={"app_id": app_id, "public_key_pem": app_keypair()[1], "slug": "prbot",
                      "name": "prbot", "callback_url": callback},
            )  # fmt: skip
        else:
            answer = await admin.post(
                "/_forge/oauth/apps",
                json={"platform": "gitlab", "name": "prbot", "redirect_uri": callback,
                      "scopes": ["read_user"]},
            )  # fmt: skip
    assert answer.status_code == 201, answer.text
    name = platform.upper()
    found = answer.json()
    return {
        f"{name}_CLIENT_ID": found["client_id"],
        f"{name}_CLIENT_SECRET": found["client_secret"],
    }
