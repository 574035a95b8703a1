"""Background jobs: one loop per process that runs every job due, each at its own interval (a
setting, so tests never wait on a real one). Today's jobs: webhook delivery
(portal/webhook_delivery.py), host alerts (portal/host_alerts.py), registrants' reminders and
follow-ups (portal/reminders.py) and, with a push server, the announcement of each room's start
to its guests' pages (portal/push.py). Any number of loops —
a thread in every gunicorn worker on every host (gunicorn_conf's post_worker_init), `flask
run-background-jobs`, `flask deliver-webhooks` — share the work: each job claims what it does
in the database, so nothing is done twice.

A job's failure (a database outage) is logged and the job tried again at its next turn; the
other jobs go on."""

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .db import database, discard_connection


@dataclass(frozen=True)
class Job:
    name: str
    work: Callable[[], object]
    every: str  # the setting that holds its interval in seconds
    in_app: str  # the setting that runs it in each worker's thread (else: a command runs it)


def webhook_job() -> Job:
    from . import webhook_delivery

    return Job("webhook delivery", webhook_delivery.deliver_due, "WEBHOOK_POLL_SECONDS",
               "WEBHOOK_DELIVERY_IN_APP")


def alert_job() -> Job:
    from . import host_alerts

    return Job("host alerts", host_alerts.alert_due, "HOST_ALERT_CHECK_SECONDS",
               "HOST_ALERTS_IN_APP")


def start_job() -> Job:
    from . import push

    return Job("start announcements", push.announce_starts, "PUSH_START_CHECK_SECONDS",
               "PUSH_START_IN_APP")


def reminder_job() -> Job:
    from . import reminders

    return Job("reminders", reminders.send_due, "REMINDER_CHECK_SECONDS", "REMINDERS_IN_APP")


def all_jobs() -> list[Job]:
    return [webhook_job(), alert_job(), reminder_job(), start_job()]


def check_settings(config) -> None:
    if config["WEBHOOK_LEASE_SECONDS"] <= config["WEBHOOK_TIMEOUT_SECONDS"]:
        # a send still under way when its lease ends could be sent again meanwhile
        raise ValueError("WEBHOOK_LEASE_SECONDS must be longer than WEBHOOK_TIMEOUT_SECONDS")


def run_once(app: Flask, job: Job) -> None:
    with app.app_context():
        try:
            job.work()
        except Exception:
            app.logger.exception("%s tick failed", job.name)
            discard_connection()
        finally:
            if not database.is_closed():
                database.close()


def run(app: Flask, jobs: list[Job], stop: threading.Event | None = None,
        once: bool = False) -> None:
    """Run `jobs`, each every its interval, until `stop` is set (or, `once`, each one time)."""
    check_settings(app.config)
    stop = stop or threading.Event()
    due = {job.name: 0.0 for job in jobs}
    while not stop.is_set():
        for job in jobs:
            if time.monotonic() >= due[job.name]:
                run_once(app, job)
                due[job.name] = time.monotonic() + app.config[job.every]
        if once or not jobs:
            return
        stop.wait(max(0.0, min(due.values()) - time.monotonic()))


def start_thread(app: Flask) -> threading.Thread | None:
    """The loop in a daemon thread of this process, with the jobs whose `in_app` setting is
    on (a deployment may run them with a command of their own instead). The start
    announcements get a loop of their own: a webhook receiver taking its 10 s must not make
    10,000 pages late for the start."""
    if not isinstance(app, Flask) or "WEBHOOK_POLL_SECONDS" not in app.config:
        return None  # not Guestgate's app
    from . import push

    jobs = [job for job in all_jobs() if app.config.get(job.in_app)]
    starts = [job for job in jobs if job.name == start_job().name]
    jobs = [job for job in jobs if job not in starts]
    check_settings(app.config)
    if starts and push.enabled(app.config):  # without a push server there is nobody to tell
        threading.Thread(target=run, args=(app, starts), name="start-announcements",
                         daemon=True).start()
    if not jobs:
        return None
    thread = threading.Thread(target=run, args=(app, jobs), name="background-jobs", daemon=True)
    thread.start()
    return thread


def run_until_stopped(jobs: list[Job], once: bool) -> None:
    """A command's loop: until Ctrl+C or SIGTERM."""
    import signal

    app = current_app._get_current_object()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        run(app, jobs, stop, once=once)


@click.command("run-background-jobs")
@click.option("--once", is_flag=True, help="Run each job once, then exit (cron, tests).")
@with_appcontext
def run_background_jobs_command(once: bool):
    """Deliver webhooks, send host alerts and reminders, and announce rooms' starts to guests'
    pages (with a push server) until stopped (Ctrl+C or SIGTERM)."""
    run_until_stopped(all_jobs(), once)


@click.command("deliver-webhooks")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (cron, tests).")
@with_appcontext
def deliver_webhooks_command(once: bool):
    """Deliver webhook events until stopped (Ctrl+C or SIGTERM): the loop above, running only
    this job."""
    run_until_stopped([webhook_job()], once)
