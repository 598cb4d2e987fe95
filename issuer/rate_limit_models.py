"""Table of request rate counters (see `issuer.rate_limits`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db import Base, UTCDateTime


class RateCounter(Base):
    """Requests counted in one window for one limit and subject (`<limit>:<window>:<subject>`)."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
