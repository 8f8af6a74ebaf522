"""The bidding engine: pure Python, no I/O, no clock, no framework.

Everything here is deterministic given its inputs, which is what lets the journal replay a
lot exactly and lets tests drive time by hand.
"""

from hall.engine.events import AnyEvent, BidPlaced, Closed, Event, Outcome
from hall.engine.lot import Action, Lot, LotState, Registrant, State
from hall.engine.results import Accepted, Code, Rejection, Result
from hall.engine.spec import MAX_AMOUNT, LotSpec, Mode

__all__ = [
    "MAX_AMOUNT", "Accepted", "Action", "AnyEvent", "BidPlaced", "Closed", "Code", "Event", "Lot",
    "LotSpec", "LotState", "Mode", "Outcome", "Registrant", "Rejection", "Result", "State",
]  # fmt: skip
