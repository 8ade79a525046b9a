"""Helpers for end-to-end crawl tests: the real ``caigou`` command in a subprocess (Twisted's reactor runs once per
process), talking to a local replay server used as the http proxy, so spiders keep the real portal URLs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Politeness off: the replay server is local.
FAST = ["--set", "DOWNLOAD_DELAY=0", "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "CAIGOU_BLOCK_BACKOFF=0.05",
        "--set", "RETRY_TIMES=1", "--set", "CAIGOU_RETRY_BACKOFF=0.05"]


def _environment(proxy: str | None, env: dict[str, str] | None) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if key.lower() not in {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}}
    environment["PYTHONPATH"] = str(ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    if proxy:
        environment["http_proxy"] = environment["https_proxy"] = proxy
    environment.update(env or {})
    return environment


def start_caigou(*args: str, proxy: str | None = None) -> subprocess.Popen[str]:
    """The command started, not waited for (a test that kills it)."""
    return subprocess.Popen([sys.executable, "-m", "caigou", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_environment(proxy, None), cwd=ROOT)


def run_caigou(*args: str, proxy: str | None = None, env: dict[str, str] | None = None,
               timeout: float = 120, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = _environment(proxy, env)
    return subprocess.run([sys.executable, "-m", "caigou", *args], capture_output=True, text=True,
                          input=input_text, env=environment, cwd=ROOT, timeout=timeout)


def crawl(database_url: str, source: str, *args: str, proxy: str | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # FAST first: a test's own --set of the same setting wins.
    return run_caigou("--db", database_url, "crawl", source, *FAST, *args, proxy=proxy, env=env)


def chromium_or_skip() -> str:
    """The system Chromium's path; a skip without it, a failure when CAIGOU_REQUIRE_BROWSER=1 (as in .ci/run)."""
    found = os.environ.get("CAIGOU_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CAIGOU_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium is required (CAIGOU_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
    pytest.skip("Chromium is not installed; .ci/run installs it (apt-get install chromium)")
