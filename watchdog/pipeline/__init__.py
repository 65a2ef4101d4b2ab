"""The pipeline: every source of events (block ranges, pending transactions, scheduled runs) goes through one
unit of work — handler, then findings + rule state + progress in one store transaction, then the sinks."""

from watchdog.pipeline.follower import Follower, FollowerOptions
from watchdog.pipeline.handler import Handler, Sink
from watchdog.pipeline.mempool import MempoolFollower
from watchdog.pipeline.schedule import ScheduledRuns
from watchdog.pipeline.unit import UnitOfWork

__all__ = ["Follower", "FollowerOptions", "Handler", "MempoolFollower", "ScheduledRuns", "Sink", "UnitOfWork"]
