import sys

__version__ = "0.1.0"

# structlog imports rich (and with it pygments) whenever rich is installed, for a console
# renderer's tracebacks the API does not use (its logs are JSON, or plain text without
# local variables): about 5 MB of every API worker's memory, against issue #14's budget of
# 150 MB. So rich is hidden while structlog loads (it then formats tracebacks plainly) and
# is importable as usual afterwards (the CLI's import progress bars use it).
if "structlog" not in sys.modules:
    hidden = sys.modules.setdefault("rich", None) is None
    import structlog  # noqa: F401

    if hidden:
        del sys.modules["rich"]
