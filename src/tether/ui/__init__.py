"""The local web viewer behind ``tether ui``: runs, why they ended, their steps, and
decisions on the calls that wait for a person.

:func:`create_app` builds the Starlette application; the command line serves it
with uvicorn. Templates and the small script and style sheet ship in this package.
"""

from ._actions import AgentFor
from ._app import create_app
from ._guard import is_loopback, url_host

__all__ = ["AgentFor", "create_app", "is_loopback", "url_host"]
