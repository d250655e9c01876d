"""Application services over the ports: run an automation (``run``, ``runs``), the
definitions at run time (``definitions``), the SCM providers (``providers``), the event
router (``router``, ``routes``), and the sandbox that untrusted work runs in
(``sandbox``, with what runs inside it in ``boxed``)."""
