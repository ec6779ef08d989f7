"""What the sweep reads: the sparse, sharded Due index of SessionsTable (keys in ``keys``).

Two kinds of item are due there: sessions (a request to expire, an end to complete) and
sessions' reminders records (an email their time owes: ``coaching.reminders``)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coaching.models import Session
from coaching.reminders import Reminders
from coaching.storage import keys
from coaching.storage.dynamodb import Table
from coaching.storage.keys import iso
from coaching.storage.reminders import is_reminders, reminders_from_item
from coaching.storage.sessions import session_from_item


class DueStore(Table):
    def due_partitions(self) -> list[str]:
        """The Due index partitions a sweep must read: every shard, and the legacy one."""
        return keys.due_partitions(self.settings.due_shards)

    def due_partition(self, session_id: str) -> str:
        """The Due index partition a change to this session writes its entry to."""
        return keys.due_partition(session_id, self.settings.due_shards)

    def due_page(
        self,
        partition: str,
        now: datetime,
        limit: int,
        after: Mapping[str, Any] | None = None,
    ) -> "DuePage":
        """One page of one Due index partition up to ``now``, oldest due first, with its cost.

        Only due items are read: the key condition stops at ``now``. The index holds keys only
        (writing a whole session into it on every change cost more than reading the few that
        come due), so the sessions themselves come from one strongly consistent
        ``BatchGetItem``: the sweep decides on their current state, not on a lagging copy.
        An item that is no longer a valid session is named in ``unreadable`` rather than
        failing the page, so one bad item cannot stop every later sweep at the head of the index.
        """
        due = self._due_entries(self.sessions_table, partition, iso(now), limit, after)
        page = DuePage(
            next_key=due.next_key, items_read=due.items_read, capacity_units=due.capacity_units
        )
        keys = due.keys
        found, units = self._read_items(self.sessions_table, keys)
        page.capacity_units += units
        for key in keys:
            item = found.get((key["pk"]["S"], key["sk"]["S"]))
            if item is None:
                continue  # gone since the index listed it: nothing to sweep
            try:
                if is_reminders(key):
                    page.reminders.append(reminders_from_item(item))
                else:
                    page.sessions.append(session_from_item(item))
            except ValueError:  # pydantic's ValidationError; its text may quote personal data
                page.unreadable.append(key["pk"]["S"])
        return page


@dataclass
class DuePage:
    """A page of due sessions, and what reading it cost."""

    next_key: dict[str, Any] | None
    """Where the next page starts; None when the index holds nothing more that is due."""
    items_read: int
    """Index entries the query read."""
    capacity_units: float
    """Read units of the query and of reading its sessions."""
    sessions: list[Session] = field(default_factory=list)
    reminders: list[Reminders] = field(default_factory=list)
    """Reminders records with an email due."""
    unreadable: list[str] = field(default_factory=list)
    """Keys (``pk``) of due items that do not read as sessions."""
