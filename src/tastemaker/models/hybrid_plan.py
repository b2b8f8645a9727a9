"""The hybrid's plan for one fit: its members, folds, validation users and refit, within a budget.

:class:`.hybrid.Hybrid` fits each member ``folds`` times on validation cuts (to learn the
blend weights) and once more on the whole matrix. On a large catalogue that is many times
what one model costs, and dense item-item members (EASE: ``items^3`` time, ``items^2``
memory) do not fit at all. :func:`make_plan` predicts each member's fit from the data's
shape (:meth:`.family.ModelFamily.cost`, :mod:`.cost_model`) and chooses, in this order:

0. **Memory and the impossible.** A member over its own size limit (``fits``), whose fit
   would not fit the memory budget (its peak plus the validation scores), or whose single
   fit alone takes longer than the whole time budget, is replaced by its first stand-in that does (:meth:`~.family.ModelFamily.stand_ins`:
   GF-CF's factored form, ALS with fewer factors or pseudo-users), or dropped (EASE).
1. **Validation effort** while the total is over the time budget: one fold instead of
   ``folds``; then, when the validation users are a small sample (at most
   :data:`REUSE_HELD_SHARE` of the cells held out), no refit: the members fitted on the
   validation cut (every cell but the sampled users' held-out ones) are the final ones;
   then half the validation users while scoring them takes more than :data:`SCORE_SHARE`
   of the budget (not below :data:`MIN_VALIDATION_USERS`: weights of a few members need few users).
2. **Cheaper members**: the most expensive member that has a stand-in takes it, and again.
3. **Fewer members**: the last one in declared order (the defaults are listed by value)
   whose fit costs at least 1% of the budget, while another such member remains (the
   cheapest plan keeps one substantial member, over the budget if need be).

The total is ``sum(member fit) * (folds + refit)`` plus the validation scores (every
member scores every validation user over every item). The validation users per fold are
bounded by ``max_validation_users`` and by memory: their score matrices (``members *
users * items`` float32) take at most ``score_bytes`` and a third of the memory budget.

Example:
    >>> from tastemaker.models.cost_model import Budget, Shape
    >>> from tastemaker.models.popularity_family import PopularityFamily
    >>> plan = make_plan({"popularity": PopularityFamily()}, Shape.estimate(100, 50, 1_000), Budget())
    >>> list(plan.members), plan.folds, plan.refit
    (['popularity'], 2, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tastemaker.models.cost_model import Budget, Cost, Shape, score_seconds
from tastemaker.models.family import ModelFamily

#: Skip the refit when the validation fit held out at most this share of the cells.
REUSE_HELD_SHARE = 0.05
#: The validation users are halved while their scores take more than this share of the
#: budget, down to :data:`MIN_VALIDATION_USERS`.
SCORE_SHARE = 0.25
MIN_VALIDATION_USERS = 500


@dataclass
class Plan:
    """What a hybrid fit does, and its predicted seconds and peak bytes against the budget."""

    members: dict[str, ModelFamily]
    folds: int
    validation_users: int  # per fold
    refit: bool
    seconds: float = 0.0
    peak_bytes: float = 0.0
    budget_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: members, folds, refit, predicted time against the budget."""
        refit = "refit" if self.refit else "no refit"
        return (f"plan: {', '.join(self.members)}; {self.folds} fold(s) of {self.validation_users:,} validation "
                f"users, {refit}; predicted {self.seconds:.1f}s of {self.budget_seconds:.1f}s")


def validation_users(shape: Shape, n_members: int, folds: int, max_users: int, score_bytes: float,
                     budget: Budget) -> int:
    """Validation users per fold: within ``max_users`` and the score memory (all folds together)."""
    bound = min(score_bytes, budget.memory_bytes / 3)
    affordable = int(bound // (4 * max(n_members, 1) * max(shape.items, 1)))
    return max(1, min(max_users, affordable) // max(folds, 1))


def held_share(shape: Shape, users_per_fold: int, holdout: float) -> float:
    """The share of cells a validation fold holds out (its users' ``holdout`` share)."""
    return min(1.0, users_per_fold / max(shape.users, 1)) * holdout


class _Planner:
    """The state :func:`make_plan` degrades step by step."""

    def __init__(self, members: dict[str, ModelFamily], shape: Shape, budget: Budget, folds: int,
                 max_users: int, holdout: float, refit: bool | None, score_bytes: float):
        self.shape, self.budget, self.max_users, self.holdout = shape, budget, max_users, holdout
        self.score_bytes = score_bytes
        self.refit_auto = refit is None
        self.user_cap = max_users
        self.plan = Plan({}, folds, 0, True if refit is None else bool(refit),
                         budget_seconds=budget.seconds(shape))
        self.chain: dict[str, list[ModelFamily]] = {}  # stand-ins not taken yet, per member
        self.costs: dict[str, Cost] = {}
        for name, member in members.items():
            self.chain[name] = list(member.stand_ins(shape))
            self.take(name, member)

    def take(self, name: str, member: ModelFamily) -> None:
        self.plan.members[name] = member
        self.costs[name] = member.cost(self.shape)

    def note(self, text: str) -> None:
        self.plan.notes.append(text)

    def users(self) -> int:
        return validation_users(self.shape, len(self.plan.members), self.plan.folds, self.user_cap,
                                self.score_bytes, self.budget)

    def scoring(self) -> float:
        """Scoring the validation users (every member, and the candidate pool's passes)."""
        if len(self.plan.members) < 2:
            return 0.0
        rows = min(self.users(), self.shape.users) * self.plan.folds
        return score_seconds(rows * (len(self.plan.members) + 2), self.shape.items)

    def fits_per_member(self) -> int:
        if len(self.plan.members) < 2:  # a single member is fitted once, with no validation
            return 1
        return self.plan.folds + int(self.plan.refit)

    def total(self) -> float:
        return sum(c.seconds for c in self.costs.values()) * self.fits_per_member() + self.scoring()

    def score_memory(self) -> float:
        return 4.0 * len(self.plan.members) * min(self.users(), self.shape.users) * self.plan.folds * self.shape.items

    def step_down(self, name: str, why: str) -> bool:
        """Replace member ``name`` by its next stand-in (True), or drop it (False)."""
        if self.chain[name]:
            cheaper = self.chain[name].pop(0)
            self.note(f"{name}: {why}; {describe(self.plan.members[name], cheaper)}")
            self.take(name, cheaper)
            return True
        self.note(f"{name}: {why}; dropped")
        del self.plan.members[name], self.costs[name]
        return False

    def too_big(self, name: str) -> str | None:
        cost = self.costs[name]
        if not self.plan.members[name].fits(self.shape.items):
            return f"{self.shape.items:,} items are over its size limit"
        if cost.peak_bytes + self.score_memory() > self.budget.memory_bytes:
            return f"a fit needs ~{cost.peak_bytes / 2**20:,.0f} MiB"
        if cost.seconds > self.plan.budget_seconds:
            return f"a fit takes ~{cost.seconds:.1f}s"
        return None

    def run(self) -> Plan:
        for name in list(self.plan.members):  # 0. what cannot fit at all
            while name in self.plan.members and (why := self.too_big(name)):
                if not self.step_down(name, f"{why}, over the budget"):
                    break
        budget = self.plan.budget_seconds
        while self.total() > budget:
            if self.plan.folds > 1:  # 1. validation effort
                self.plan.folds = 1
                self.note("one validation fold")
                continue
            if self.refit_auto and self.plan.refit and \
                    held_share(self.shape, self.users(), self.holdout) <= REUSE_HELD_SHARE:
                self.plan.refit = False
                self.note("no refit: the validation fits held out a small sample of cells")
                continue
            users = self.users() * self.plan.folds
            if self.scoring() > SCORE_SHARE * budget and min(users, self.shape.users) > MIN_VALIDATION_USERS:
                self.user_cap = max(MIN_VALIDATION_USERS, min(users, self.shape.users) // 2)
                self.note(f"{self.user_cap:,} validation users")
                continue
            with_stand_in = [n for n in self.plan.members if self.chain[n]]
            if with_stand_in:  # 2. cheaper members
                name = max(with_stand_in, key=lambda n: self.costs[n].seconds)
                self.step_down(name, "over the time budget")
                continue
            droppable = [n for n in self.plan.members if self.costs[n].seconds >= 0.01 * budget]
            if len(droppable) > 1:  # 3. fewer members
                self.step_down(droppable[-1], "over the time budget")
                continue
            self.note("over the time budget with the cheapest plan")
            break
        self.plan.validation_users = self.users()
        self.plan.seconds = self.total()
        self.plan.peak_bytes = max((c.peak_bytes for c in self.costs.values()), default=0.0) + self.score_memory()
        return self.plan


def describe(old: ModelFamily, new: ModelFamily) -> str:
    """What a stand-in changed: ``factors 128 -> 64`` and the like."""
    changed = [f"{k} {old.params.get(k)!r} -> {v!r}" for k, v in new.params.items() if old.params.get(k) != v]
    if type(old) is not type(new):
        changed.insert(0, f"{old.name} -> {new.name}")
    return ", ".join(changed) or "a cheaper variant"


def make_plan(members: dict[str, ModelFamily], shape: Shape, budget: Budget, *, folds: int = 2,
              max_validation_users: int = 5_000, holdout: float = 0.4, refit: bool | None = None,
              score_bytes: float = float(1 << 30)) -> Plan:
    """The members and validation effort of one hybrid fit on ``shape`` within ``budget``
    (see the module docstring). ``members`` is not modified; an empty result means that no
    member fits (the hybrid then uses its item-kNN fallback)."""
    return _Planner(dict(members), shape, budget, folds, max_validation_users, holdout, refit, score_bytes).run()
