"""GitHub's App manifest flow on the forge: a manifest in, a registered App and a one-time
code out; the code converts once into the App's credentials.

GitHub's rules, kept here: the manifest needs a ``name`` (unique among Apps) and a
``url``; an active ``hook_attributes.url`` must be http(s); each default event needs a
permission that carries it; the code is good for one conversion within an hour. The
private key, webhook secret and client secret exist in clear only until the conversion
(then only their public halves or hashes stay on the forge). Codes live in memory: a
restarted forge forgets them, as a lost code on GitHub means starting again.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from prbot.forge.errors import NotFound, Unprocessable
from prbot.forge.models import App, hash_token
from prbot.forge.state import Forge

CODE_TTL = 3600  # GitHub: "the code expires after one hour"
FIRST_APP_ID = 900_001
LEVELS = ("read", "write", "admin")
# the permission whose presence lets an App subscribe to an event (GitHub refuses others)
EVENT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "check_run": ("checks",),
    "check_suite": ("checks",),
    "deployment": ("deployments",),
    "deployment_status": ("deployments",),
    "issue_comment": ("issues", "pull_requests"),
    "issues": ("issues",),
    "label": ("metadata",),
    "member": ("members",),
    "membership": ("members",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "push": ("contents",),
    "release": ("contents",),
    "repository": ("metadata",),
    "status": ("statuses",),
    "workflow_run": ("actions",),
}
# delivered to every App whatever it subscribes to
ALWAYS_DELIVERED = ("installation", "installation_repositories")
SLUG_JUNK = re.compile(r"[^a-z0-9]+")


@dataclass
class Conversion:
    """What one code converts into, once."""

    app_id: int
    pem: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    client_secret: str = field(repr=False)
    expires_at: float


def _slug(name: str) -> str:
    return SLUG_JUNK.sub("-", name.lower()).strip("-")


def check_manifest(raw: str) -> dict[str, Any]:
    """The manifest as a dict, or ``Unprocessable`` naming the field at fault."""
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise Unprocessable("manifest: not valid JSON") from None
    if not isinstance(manifest, dict):
        raise Unprocessable("manifest: must be a JSON object")
    name = manifest.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 34:
        raise Unprocessable("manifest: name is required (at most 34 characters)")
    if not isinstance(manifest.get("url"), str) or not manifest["url"].startswith("http"):
        raise Unprocessable("manifest: url is required (http or https)")
    hook = manifest.get("hook_attributes") or {}
    if not isinstance(hook, dict):
        raise Unprocessable("manifest: hook_attributes must be an object")
    if hook.get("active", True) and not str(hook.get("url", "")).startswith(
        ("http://", "https://")
    ):
        raise Unprocessable("manifest: hook_attributes.url must be an http(s) URL")
    redirect = manifest.get("redirect_url", "")
    if not isinstance(redirect, str) or not redirect.startswith(("http://", "https://")):
        raise Unprocessable("manifest: redirect_url must be an http(s) URL")
    permissions = manifest.get("default_permissions") or {}
    if not isinstance(permissions, dict) or any(
        not isinstance(v, str) or v not in LEVELS for v in permissions.values()
    ):
        raise Unprocessable("manifest: default_permissions must map names to read or write")
    events = manifest.get("default_events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise Unprocessable("manifest: default_events must be a list of event names")
    unsupported = [
        e for e in events if not any(p in permissions for p in EVENT_PERMISSIONS.get(e, ("?",)))
    ]
    if unsupported:
        raise Unprocessable(f"Default events unsupported: {', '.join(unsupported)}")
    return manifest


class ManifestFlow:
    """The codes of one forge's manifest flow."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self._codes: dict[str, Conversion] = {}  # by hash: a code is never kept itself

    def _free_app_id(self) -> int:
        taken = {a.id for a in self.forge.apps()}
        app_id = FIRST_APP_ID
        while app_id in taken:
            app_id += 1
        return app_id

    async def create_app(self, manifest: dict[str, Any], owner: str) -> tuple[App, str]:
        """Register the App ``manifest`` describes, owned by ``owner`` (a forge user or
        organisation); its hook and callback set. Returns the App and its one-time code."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        forge = self.forge
        slug = _slug(manifest["name"])
        if any(a.slug == slug for a in forge.apps()):
            raise Unprocessable(f"Name {manifest['name']!r} is already taken")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # GitHub hands out PKCS#1
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        events = list(manifest.get("default_events") or [])
        app = await forge.register_app(
            self._free_app_id(),
            public.decode(),
            slug=slug,
            name=manifest["name"],
            owner=owner,
            permissions={"metadata": "read", **(manifest.get("default_permissions") or {})},
            events=events,
        )
        app.events = events  # register_app substitutes defaults for an empty list
        webhook_secret = secrets.token_hex(20)
        hook = manifest.get("hook_attributes") or {}
        if hook.get("active", True):
            forge.add_hook(
                "github",
                hook["url"],
                secret=webhook_secret,
                events=[*events, *ALWAYS_DELIVERED],
                app_id=app.id,
            )
        callbacks = manifest.get("callback_urls") or []
        if callbacks and isinstance(callbacks[0], str):
            forge.set_app_callback(app.id, callbacks[0])
        client_secret = forge.new_app_client_secret(app.id)
        code = secrets.token_hex(20)
        self._codes[hash_token(code)] = Conversion(
            app.id, pem, webhook_secret, client_secret, forge.now() + CODE_TTL
        )
        forge.save()
        return app, code

    def convert(self, code: str) -> tuple[App, Conversion]:
        """The App and credentials of ``code``; NotFound if unknown, used or expired."""
        found = self._codes.pop(hash_token(code), None)
        if found is None or found.expires_at <= self.forge.now():
            raise NotFound("Not Found")
        return self.forge.app(found.app_id), found
