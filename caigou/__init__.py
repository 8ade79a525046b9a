"""caigou: watch Chinese government procurement notices for purchases of DNA and biometric surveillance technology.

The application layer: the command line and the user-facing features (search, review, digests, exports) over
``models`` (storage), ``pipelines`` (normalise → match → store) and ``crawler`` (the Scrapy project).
"""

__version__ = "0.1.0"
