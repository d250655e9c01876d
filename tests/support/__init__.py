"""What tests in every folder share: the local forge with a repository (``forge``; its
``forge_repo`` fixture is registered for all folders by tests/conftest.py), a clock and a
recording sleep (``clock``), ``wait_for`` (``waiting``), a memory fake of the whole SCM
port (``memory_scm``) and ``prbot serve`` as a process (``serve``). Import as
``from tests.support.<module> import ...``.
"""
