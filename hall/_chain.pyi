from collections.abc import Callable, Sequence

from hall.engine import AnyEvent

def links(
    heads: dict[int, bytes], events: Sequence[AnyEvent], bid_type: type, canonical: Callable[[AnyEvent], bytes]
) -> list[bytes]: ...
