"""What tests in every folder share: the local forge with a repository (``forge``; its
``forge_repo`` fixture is registered for all folders by tests/conftest.py), a clock, a
recording sleep and the clock file of a served process (``clock``), ``wait_for``
(``waiting``), a memory fake of the whole SCM port (``memory_scm``), ``prbot serve`` as a
process (``serve``) and the promotion it runs with a client of its API (``promotions``).
Import as ``from tests.support.<module> import ...``.
"""
