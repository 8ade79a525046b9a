"""Only for ``scrapyd-deploy``, which builds its egg with ``python setup.py bdist_egg``: everything, the Scrapy
settings entry point included, is declared in pyproject.toml."""
from setuptools import setup

setup()
