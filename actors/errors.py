"""What can go wrong in an actor, as the HTTP layer needs to tell it apart."""
from __future__ import annotations


class DeviceError(Exception):
    """The device failed or went away (an XLink error, a pulled cable)."""


class CameraUnavailable(Exception):
    """The camera is disconnected, booting or too busy to take the request now (503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class CameraBusy(CameraUnavailable):
    """The camera's mailbox is full: the camera is there, with more commands waiting than it takes (503
    `camera_busy`, not `camera_unavailable`: a client backs off, it need not wait for a reconnect)."""


class DeviceTimeout(Exception):
    """The device did not answer within the deadline (504)."""


class CameraShutDown(Exception):
    """The camera was shut down on request; booting it (POST /cameras/{mxid}/) opens it again (409)."""


class StreamInactive(Exception):
    """The operation needs an active stream (409)."""


class StateNotSaved(Exception):
    """The change reached the camera but could not be written to disk (503: retrying the same write is safe)."""


class ConfigRejected(Exception):
    """The camera refused to build a pipeline for the configuration (422): nothing was acknowledged, and the
    camera goes on with what it ran before."""


class RevisionMismatch(Exception):
    """A conditional write (If-Match) met another revision of the camera's state than it named, at the moment
    the actor would have applied it (412): nothing changed."""

    def __init__(self, message: str, revision: int):
        super().__init__(message)
        self.revision = revision
