"""The data model. Importing this package registers every table on db.metadata."""

from models.audit import AuditLog
from models.course import FIELDS, Category, Course, CourseStatus, Mode
from models.image import Image
from models.region import Region, RegionLevel
from models.training_base import BaseMembership, BaseStatus, BaseType, TrainingBase
from models.user import Role, User

__all__ = [
    "FIELDS", "AuditLog", "BaseMembership", "BaseStatus", "BaseType", "Category", "Course", "CourseStatus",
    "Image", "Mode", "Region", "RegionLevel", "Role", "TrainingBase", "User",
]
