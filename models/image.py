"""Uploaded images (course covers, base logos), stored re-encoded under random names."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models._common import Model, utcnow

# Each stored image exists in these variants, bounded to (width, height).
IMAGE_VARIANTS = {"thumb": (480, 360), "large": (1600, 1600)}


class Image(Model):
    __tablename__ = "image"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    width: Mapped[int]
    height: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/jpeg": "jpg"}[self.content_type]

    def filename(self, variant: str) -> str:
        return f"{self.key[:2]}/{self.key}_{variant}.{self.extension}"
