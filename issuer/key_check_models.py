"""Table of the issuer key check value (see `issuer.key_check`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db import Base, UTCDateTime


class KeyCheck(Base):
    """The one row (id 1) naming, without revealing it, the key file this database belongs to."""

    __tablename__ = "key_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
