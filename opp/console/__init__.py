"""The reviewer console at ``/console``: approve, reject and audit in a browser (docs/CONSOLE.md).

``opp.console.handlers.console_handlers`` builds its routes for the app factory.
"""
