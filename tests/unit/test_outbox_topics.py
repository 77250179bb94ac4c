"""Only topics something reacts to are queued: the outbox's topic list and its handlers agree."""

from piaowu.core.events import QUEUED, Topic
from piaowu.workers.outbox_dispatch import HANDLERS


def test_every_queued_topic_has_a_handler_and_every_handler_a_queued_topic() -> None:
    assert set(HANDLERS) == set(QUEUED)


def test_the_sale_paths_log_only_events_are_not_queued() -> None:
    assert not {Topic.ORDER_PAID, Topic.ORDER_EXPIRED, Topic.ORDER_CANCELLED} & QUEUED
