"""fanoutd-publish: publish events to fanoutd from Python, over its Unix
socket or its TCP API. Standard library only.

    from fanoutd_publish import Publisher

    with Publisher(socket_path="/run/fanoutd/fanoutd.sock") as pub:
        pos = pub.publish("project:abc", "story.status.changed", {"storyId": "6-5"})
"""

from .errors import (
    ApiError,
    AuthError,
    FanoutConnectionError,
    FanoutError,
    FanoutTimeoutError,
    InvalidEventsError,
    PayloadTooLargeError,
    UnavailableError,
)
from .publisher import Position, Published, Publisher
from .stream import PublishStream
from .token import mint_token
from .transport import UnixHTTPConnection

__all__ = [
    "ApiError",
    "AuthError",
    "FanoutConnectionError",
    "FanoutError",
    "FanoutTimeoutError",
    "InvalidEventsError",
    "PayloadTooLargeError",
    "Position",
    "Published",
    "PublishStream",
    "Publisher",
    "UnavailableError",
    "UnixHTTPConnection",
    "mint_token",
]
__version__ = "0.1.0"
