"""Dossiers on buyers, suppliers, brands and regions (``dossier``), rendered as HTML, CSV or JSON (``render``)."""
