"""Every table module, imported together so each table is registered on ``Base.metadata``: what ``models`` exports
(see models/__init__.py, which imports this on first use of a name)."""
from caigou.models.base import Base
from caigou.models.crawl import CrawlError, CrawlRun, Source, Watermark
from caigou.models.digests import DeliveredNotice, Delivery, HealthAlert, Subscription, SubscriptionEvent
from caigou.models.entities import (
                             DECISION_TRIGGERS,
                             NoticeOrganisation,
                             Organisation,
                             OrganisationDecision,
                             OrganisationName,
                             ScreeningFlag,
)
from caigou.models.evidence import NoticePage, RawPage
from caigou.models.linking import NoticeLink, Procurement
from caigou.models.matching import REVIEW_FIRST_SCORE, NoticeMatch, NoticeScore, NoticeScoreChange
from caigou.models.notices import NOTICE_TYPES, Attachment, Notice, NoticeRevision, Supplier
from caigou.models.review import REVIEW_STATUSES, REVIEW_TRIGGERS, Review, User

__all__ = [
    "Attachment", "Base", "CrawlError", "CrawlRun", "DeliveredNotice", "Delivery", "HealthAlert", "NOTICE_TYPES",
    "Notice", "NoticeLink", "NoticeMatch", "NoticePage", "NoticeRevision", "NoticeScore", "NoticeScoreChange",
    "Procurement", "REVIEW_FIRST_SCORE", "REVIEW_STATUSES", "REVIEW_TRIGGERS", "RawPage", "Review", "Source",
    "Subscription", "SubscriptionEvent", "Supplier", "User",
    "Watermark", "DECISION_TRIGGERS", "NoticeOrganisation", "Organisation", "OrganisationDecision",
    "OrganisationName", "ScreeningFlag",
]
