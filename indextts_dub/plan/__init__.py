"""Stage 3, plan: every line's start, speech length and speed, over the whole episode
(:mod:`.episode`, a convex quadratic programme) or line by line (:mod:`.per_line`, the
baseline); the plan as data in :mod:`.model`, its reasons in words in :mod:`.reasons`, the
picture edits it suggests in :mod:`.retime`; more room for one line in :mod:`.room`."""
from .episode import plan
from .model import SPEED_BOUNDS, Plan, PlanEntry, PlanOptions, RetimeEdit
from .per_line import plan_per_line
from .retime import retime_map
from .room import slower

__all__ = ["SPEED_BOUNDS", "Plan", "PlanEntry", "PlanOptions", "RetimeEdit", "plan", "plan_per_line", "retime_map", "slower"]
