"""The periodic jobs the beat service runs."""

from billing_portal import celery_app
from checkout.tasks import dispatch_pending_emails


def test_the_sweeper_of_pending_emails_runs_every_minute():
    entry = celery_app.conf.beat_schedule["dispatch-pending-emails"]
    assert entry["task"] == dispatch_pending_emails.name
    assert entry["schedule"] == 60.0
    assert entry["task"] in celery_app.tasks
