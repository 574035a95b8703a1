"""gunicorn settings for `make run` and production: threads for the polling guests, and an access
log that never records a token (guest links carry one in their path)."""

import re

from gunicorn.glogging import Logger

worker_class = "gthread"
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
graceful_timeout = 10
timeout = 30

_TOKEN = re.compile(r"(/(?:g|i|reset-password)/)[^/?\s\"]+|((?:ticket|token)=)[^&\s\"]+")


def scrub(text: str) -> str:
    return _TOKEN.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class ScrubbingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = scrub(atoms[key])
        return atoms


logger_class = ScrubbingLogger


def post_worker_init(worker):
    """Each worker runs the background jobs (webhook delivery, host alerts) in a thread of its
    own (portal/background.py): claims keep workers and hosts from doing anything twice, and
    `make run` needs no second command. A thread in the worker, not the master: gunicorn forks
    workers from the master, and a thread there would be copied mid-whatever into each."""
    from portal.background import start_thread

    start_thread(worker.wsgi)
