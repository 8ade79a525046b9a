"""Watchlist matching: the watchlist as data (``watchlist.toml``), jieba tokenisation with an Aho–Corasick
candidate pass (``matcher``), scores with reasons and quantities (``scoring``), and storing them (``store``)."""
from caigou.pipelines.matching.scoring import FoundMatch, MatchInput, MatchResult, Scorer
from caigou.pipelines.matching.watchlist import Watchlist, load_watchlist

__all__ = ["FoundMatch", "MatchInput", "MatchResult", "Scorer", "Watchlist", "load_watchlist"]
