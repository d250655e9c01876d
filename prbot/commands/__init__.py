"""Slash-commands in PR and MR comments, as pure values: the registry of verbs
(``registry``), reading a comment into commands (``parse``) and who may use which
(``permissions``). Carrying a command out is the engine's (``prbot.engine.commands``)."""
