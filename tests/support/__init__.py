"""What tests in every folder share: the local forge with a repository (``forge``), a
clock and a recording sleep (``clock``), ``wait_for`` (``waiting``) and a memory fake of
the whole SCM port (``memory_scm``). Import as ``from tests.support.<module> import ...``.
"""
