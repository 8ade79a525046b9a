"""Helpers for tests that run the ``caigou`` command.

Two ways to run it, chosen per command and stated here so a reader knows what each test exercises:

* **In-process** (the default for the commands in ``IN_PROCESS``): click's ``CliRunner`` calls the real ``cli``
  group with separate stdout and stderr, under the environment, working directory and stdin a subprocess would get,
  and returns the same ``subprocess.CompletedProcess`` a subprocess run would. These commands never start Twisted's
  reactor, so nothing stops them running many times in one process, and they skip the 1.5–2 s a fresh interpreter
  pays to import Scrapy, SQLAlchemy and jieba. Exit codes come from ``sys.exit``/``ctx.exit`` as in a real run; an
  unexpected exception is printed to stderr as the real interpreter would (``Traceback (most recent call last)``)
  with status 1, so tests that check "no traceback" still check it. The caches that depend on files a test may
  rewrite (the watchlist and what is built from it) are cleared before each run; static tables (regions, jieba)
  stay loaded, which is the point.
* **Forked** for the commands that start Twisted's reactor (crawl, worker, demo, schedule, serve, attachments
  fetch), which runs once per process: the test process forks and the child runs the real ``cli`` — the real
  Scrapy engine, reactor, signal handlers, database connections of its own and exit status — with its own stdin,
  stdout and stderr (files), environment and working directory, then leaves with ``os._exit``. The child is a real
  process (it is waited for, and a test can kill it) that starts with Scrapy, SQLAlchemy and jieba already imported
  and jieba's dictionary already loaded, which a fresh interpreter spends 1.5–2 s on for every run. What a warm
  process carries over is reset in the child: the watchlist caches, the logging handlers and warning filters pytest
  installed, asyncio's event loop. Where the test process has already installed a Twisted reactor (one can't be
  swapped in a child), the run falls back to a subprocess.
* **Subprocess** (``python -m caigou``) whenever a test passes ``how="subprocess"`` because its point is a fresh
  interpreter, and always for ``start_caigou`` (a kill -9, several processes at once, the scheduler).

The crawl runs talk to a local replay server used as the http proxy, so spiders keep the real portal URLs.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Literal, NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Politeness off: the replay server is local.
FAST = ["--set", "DOWNLOAD_DELAY=0", "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "CAIGOU_BLOCK_BACKOFF=0.05",
        "--set", "RETRY_TIMES=1", "--set", "CAIGOU_RETRY_BACKOFF=0.05"]

# Commands that never start Twisted's reactor: run in-process by default. A group's name covers all its
# subcommands unless listed with the subcommand (``attachments fetch`` crawls, ``attachments list`` does not).
IN_PROCESS = frozenset({
    "search", "show", "review", "user", "export", "import", "judgements", "subscriptions", "digest", "report", "db",
    "match", "watchlist", "rematch", "screen", "sources", "attachments list",
})
_GLOBAL_OPTIONS_WITH_VALUE = {"--config", "--db"}


def _command(args: tuple[str, ...]) -> tuple[str, str]:
    """The command and subcommand named by ``args`` (after the global options), '' where absent."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
            if len(words) == 2:
                break
    return (words + ["", ""])[0], (words + ["", ""])[1]


def runs_in_process(args: tuple[str, ...]) -> bool:
    command, sub = _command(args)
    return command in IN_PROCESS or f"{command} {sub}" in IN_PROCESS


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
               timeout: float = 120, input_text: str | None = None,
               how: Literal["in-process", "forked", "subprocess"] | None = None,
               ) -> subprocess.CompletedProcess[str]:
    """The command run to its end: ``how`` is "in-process" (the commands in ``IN_PROCESS``, without a proxy),
    "forked" (the others) or "subprocess"; see the module's docstring."""
    if how is None:
        how = "in-process" if proxy is None and runs_in_process(args) else "forked"
    environment = _environment(proxy, env)
    if how == "in-process":
        return _run_in_process(args, environment, input_text)
    if how == "forked" and "twisted.internet.reactor" not in sys.modules:
        return _run_forked(args, environment, input_text, timeout)
    return subprocess.run([sys.executable, "-m", "caigou", *args], capture_output=True, text=True,
                          input=input_text, env=environment, cwd=ROOT, timeout=timeout)


@contextmanager
def _as_a_process(environment: dict[str, str]) -> Iterator[None]:
    """os.environ and the working directory as the subprocess would have them, restored afterwards."""
    saved_environment, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environment)


def _forget_file_caches() -> None:
    """Caches keyed by file paths whose content a test may have changed since the last run."""
    from caigou import filters
    from caigou.pipelines.matching import store, watchlist

    watchlist.load_watchlist.cache_clear()
    store.scorer_for.cache_clear()
    filters._spellings.cache_clear()


def _run_in_process(args: tuple[str, ...], environment: dict[str, str],
                    input_text: str | None) -> subprocess.CompletedProcess[str]:
    from click.testing import CliRunner

    from caigou.cli import cli

    _forget_file_caches()
    runner = CliRunner()  # click ≥ 8.2: stdout and stderr apart
    with _as_a_process(environment):
        result = runner.invoke(cli, list(args), input=input_text, prog_name="caigou", catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What the interpreter prints for an uncaught exception, so "no traceback" checks keep their meaning.
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess([sys.executable, "-m", "caigou", *args], result.exit_code,
                                       result.stdout, stderr)


def _run_forked(args: tuple[str, ...], environment: dict[str, str], input_text: str | None,
                timeout: float) -> subprocess.CompletedProcess[str]:
    """The command in a child forked from this process (see the module's docstring), waited for like a
    subprocess: ``TimeoutExpired`` after ``timeout`` seconds, a negative status when a signal ended it."""
    with tempfile.TemporaryDirectory(prefix="caigou-fork-") as folder:
        streams = {name: Path(folder) / name for name in ("stdin", "stdout", "stderr")}
        streams["stdin"].write_text(input_text or "", encoding="utf-8")
        streams["stdout"].touch()  # there to read even if the child dies before it opens them
        streams["stderr"].touch()
        _warm_up()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            _child_runs_cli(args, environment, streams)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired([sys.executable, "-m", "caigou", *args], timeout)
            time.sleep(0.01)
        return subprocess.CompletedProcess([sys.executable, "-m", "caigou", *args], os.waitstatus_to_exitcode(status),
                                           streams["stdout"].read_text(encoding="utf-8", errors="replace"),
                                           streams["stderr"].read_text(encoding="utf-8", errors="replace"))


@cache
def _warm_up() -> None:
    """What every forked run would otherwise load for itself: the commands, Scrapy and the spiders, and jieba's
    dictionary. Loaded once in the test process; none of it installs a Twisted reactor."""
    import scrapy.crawler  # noqa: F401 - imported for its side effect: loaded before the fork
    from scrapy.settings import Settings
    from scrapy.spiderloader import SpiderLoader

    from caigou import cli
    from caigou.crawler.settings import SPIDER_MODULES
    from caigou.pipelines.matching.matcher import plain_dictionary

    cli._register()
    SpiderLoader.from_settings(Settings({"SPIDER_MODULES": SPIDER_MODULES}))
    plain_dictionary()


def _child_runs_cli(args: tuple[str, ...], environment: dict[str, str], streams: dict[str, Path]) -> NoReturn:
    """In the forked child: the process a fresh ``python -m caigou`` would be, then ``cli``; ends the process."""
    status = 1
    try:
        for fd, name, mode in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY)):
            opened = os.open(streams[name], mode)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, errors="backslashreplace")
        sys.argv = [str(ROOT / "caigou" / "__main__.py"), *args]
        os.environ.clear()
        os.environ.update(environment)
        os.chdir(ROOT)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has them
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        logging.root.handlers.clear()  # pytest's capture handlers: the command installs its own
        logging.root.setLevel(logging.WARNING)
        warnings.resetwarnings()  # pytest records warnings; a fresh interpreter prints them with these filters
        warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        asyncio.set_event_loop(asyncio.new_event_loop())  # not the test process's loop (its selector is shared)
        _forget_file_caches()
        from caigou.cli import cli

        cli.main(list(args), prog_name="caigou", standalone_mode=True)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()  # as the interpreter would, so "no traceback" checks keep their meaning
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed or broken stream: nothing more can be said
                pass
        os._exit(status)


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


@contextmanager
def chromium_page(**options: Any) -> Iterator[Any]:
    """A page in the system's headless Chromium, driven by Playwright (``options`` go to ``new_page``); closed
    after the block. Skips or fails as ``chromium_or_skip`` does."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser.new_page(**options)
        finally:
            browser.close()
