"""Production defaults for gunicorn; it reads this file from the working directory.

The worker count is given on the command line (README, "Deploy": how many for a given load).
"""

import os

# Behind a TLS proxy on the same host; containers listen on every interface.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# A request that takes longer is a bug (every parser has a size limit): free the worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Restart workers now and then, so a slow leak in any library cannot grow without bound.
max_requests = 10000
max_requests_jitter = 1000
accesslog = "-"
# Trust X-Forwarded-* only from the proxy's address (a comma-separated list; "*" in containers).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
