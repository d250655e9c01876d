"""The local forge: a GitHub- and GitLab-compatible server on loopback over real git.

Start with ``state.Forge`` (the model every API façade calls) and ``server.ForgeServer``
(the aiohttp app on 127.0.0.1).
"""
