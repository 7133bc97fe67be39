"""What a verifier believes and how strict it is: one object handed to every check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from signing.times import utcnow
from signing.trust import TrustStore


@dataclass
class Policy:
    signer_trust: TrustStore
    tsa_trust: TrustStore
    max_delay: int = 86400  # seconds allowed between signing time and TSA time
    strict: bool = False  # warnings (and "not signed") fail too
    evidence: bool = False  # keep screenshots and page lists for the HTML report
    now: dt.datetime | None = None  # when "expired since" is judged (None: the clock)
    workers: int | None = None  # threads for the parallel scan (None: one per core)

    @property
    def clock(self) -> dt.datetime:
        return self.now or utcnow()
