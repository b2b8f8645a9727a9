"""Per-event bot scoring: behaviour no person produces, judged on event time, in log order.

Signals, each enough on its own to call a user a bot (the decision sticks to the user):

* ``user_agent``: a crawler or an HTTP library by the uap-core classification
  (:func:`tastemaker.features.context.parse_agent`), e.g. Googlebot, curl, python-requests;
* ``rate``: more than :data:`RATE_MAX` events at distinct timestamps within
  :data:`RATE_WINDOW_S` seconds (events sharing a timestamp, a batch sent without times,
  count once), or more than :data:`SUSTAINED_MAX` within :data:`SUSTAINED_WINDOW_S`;
* ``regular_gaps``: :data:`REGULAR_RUN` consecutive gaps of at least
  :data:`MIN_REGULAR_GAP_S` that differ by less than 2% (a timer, not a person);
* ``click_without_view``: at least :data:`BLIND_CLICKS` clicks on items the user never
  viewed (nor saw in a list answering a ``recommendation_id``), and most of its clicks so.

Times are event timestamps, so a replay judges the same way. The state per user is a few
timestamps and a bounded set of viewed items; users that an operator released are
``trusted`` and never judged again (until :meth:`BotScorer.distrust`).

>>> s = BotScorer()
>>> s.score("u1", "view", "i1", 0.0, {"user_agent": "curl/8.4.0"})
'user_agent'
>>> [s.score("u2", "view", "i1", t * 5.0, None) for t in range(3)]
[None, None, None]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from tastemaker.features.context import parse_agent

RATE_WINDOW_S = 10.0
RATE_MAX = 12  # distinct timestamps within RATE_WINDOW_S: faster than anyone reads a page
SUSTAINED_WINDOW_S = 120.0
SUSTAINED_MAX = 60
REGULAR_RUN = 6
MIN_REGULAR_GAP_S = 0.5
REGULAR_TOLERANCE = 0.02
BLIND_CLICKS = 3
VIEWED_KEEP = 256  # items remembered as viewed per user (oldest forgotten first)
_TIMES = max(RATE_MAX, SUSTAINED_MAX) + 1
VIEW_TYPES = frozenset({"view", "impression", "search"})
CLICK_TYPES = frozenset({"click"})
MAX_USERS = 1_000_000  # users tracked; beyond it the least recently seen are forgotten


class _User:
    __slots__ = ("agent", "agent_bot", "blind", "clicks", "n", "ref_gap", "run", "times", "trusted", "verdict", "viewed")

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=_TIMES)  # distinct event timestamps, newest last
        self.viewed: dict[str, None] = {}  # insertion-ordered set
        self.clicks = 0
        self.blind = 0
        self.verdict: str | None = None
        self.trusted = False
        self.n = 0  # events seen
        self.agent: str | None = None  # the last user agent and whether it is a bot's (parsed once per change)
        self.agent_bot = False
        self.ref_gap = -1.0  # the gap a run of equal gaps started with, and the run's length
        self.run = 0


class BotScorer:
    """The per-user signals of the module docstring. After :meth:`score`, ``last_new`` says
    whether that event made the user a bot, ``last_young`` whether the user has at most
    ``YOUNG`` events here, ``last_trusted`` whether an operator released them."""

    YOUNG = 6

    def __init__(self) -> None:
        self.users: dict[str, _User] = {}
        self.last_new = self.last_young = self.last_trusted = False

    def _user(self, user_id: str) -> _User:
        user = self.users.get(user_id)
        if user is None:
            if len(self.users) >= MAX_USERS:  # forget the oldest-inserted quarter (bounded memory)
                for key in list(self.users)[: MAX_USERS // 4]:
                    del self.users[key]
            user = self.users[user_id] = _User()
        return user

    def events_seen(self, user_id: str) -> int:
        """How many events of the user were scored (0 for a user never seen)."""
        user = self.users.get(user_id)
        return 0 if user is None else user.n

    def is_trusted(self, user_id: str) -> bool:
        user = self.users.get(user_id)
        return user is not None and user.trusted

    def verdict(self, user_id: str) -> str | None:
        user = self.users.get(user_id)
        return None if user is None else user.verdict

    def score(self, user_id: str, event_type: str, item_id: str | None, ts: float,
              context: Mapping[str, Any] | None, answered: bool = False) -> str | None:
        """The reason this event's user is a bot (this event or an earlier one decided it), or
        None. ``answered``: the event carries a ``recommendation_id`` (its item was shown)."""
        user = self.users.get(user_id)
        if user is None:
            user = self._user(user_id)
        user.n += 1
        self.last_new = False
        self.last_young = user.n <= self.YOUNG
        self.last_trusted = user.trusted
        if user.trusted:
            return None
        if user.verdict is not None:
            return user.verdict
        reason = None
        if context:
            ua = context.get("user_agent")
            if ua is not user.agent and isinstance(ua, str):
                user.agent, user.agent_bot = ua, bool(ua) and parse_agent(ua).is_bot
            if user.agent_bot and ua == user.agent:
                reason = "user_agent"
        times = user.times
        if not times or ts != times[-1]:
            if times:
                gap = ts - times[-1]
                ref = user.ref_gap
                if gap >= MIN_REGULAR_GAP_S and abs(gap - ref) <= REGULAR_TOLERANCE * ref:
                    user.run += 1
                else:
                    user.ref_gap, user.run = gap, 1
            times.append(ts)
            if reason is None:
                reason = _timing(times) or ("regular_gaps" if user.run >= REGULAR_RUN else None)
        if item_id is not None:
            if event_type in VIEW_TYPES or answered:
                viewed = user.viewed
                if item_id not in viewed:
                    viewed[item_id] = None
                    if len(viewed) > VIEWED_KEEP:
                        del viewed[next(iter(viewed))]
            elif event_type in CLICK_TYPES:
                user.clicks += 1
                if item_id not in user.viewed:
                    user.blind += 1
                    if reason is None and user.blind >= BLIND_CLICKS and 2 * user.blind > user.clicks:
                        reason = "click_without_view"
        if reason is not None:
            user.verdict = reason
            self.last_new = True
        return reason

    def flag(self, user_id: str, reason: str) -> None:
        """Call the user a bot (a shilling burst, an operator's confirmation)."""
        user = self._user(user_id)
        if not user.trusted:
            user.verdict = reason

    def trust(self, user_id: str) -> None:
        """An operator released the user: never judge them again."""
        user = self._user(user_id)
        user.trusted, user.verdict = True, None

    def distrust(self, user_id: str) -> None:
        """Judge the user again from scratch."""
        self.users.pop(user_id, None)


def _timing(times: deque[float]) -> str | None:
    """``rate`` from the user's distinct timestamps (newest last), else None."""
    n = len(times)
    newest = times[-1]
    # 0 <=: events sent newest first (a back-fill) are not taken for a burst
    if n > RATE_MAX and 0.0 <= newest - times[n - 1 - RATE_MAX] <= RATE_WINDOW_S:
        return "rate"
    if n > SUSTAINED_MAX and 0.0 <= newest - times[n - 1 - SUSTAINED_MAX] <= SUSTAINED_WINDOW_S:
        return "rate"
    return None
