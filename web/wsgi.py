"""The WSGI application for servers that run several processes, e.g. on PostgreSQL:

    gunicorn --workers 2 --threads 8 --bind 127.0.0.1:5000 web.wsgi:app

Timers then run in `kefu worker` processes beside it (`kefu serve` runs one in process).
"""

from web import create_app
from web.server.serving import AccessLog, tune_threads

tune_threads()
app = AccessLog(create_app())
