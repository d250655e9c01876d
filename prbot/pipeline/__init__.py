"""The promotion state machine (pure): a pipeline run as a value, happenings in, actions out.

``machine.decide(promotion, happening, now) -> (promotion', actions)`` is the whole of it;
``model`` holds the values, ``gates`` approvals and time windows, ``health`` the reading
of health signals, ``status`` the status comment, ``codec`` the promotion as JSON data.
No I/O, no clock reads, no randomness: time is passed in.
"""
