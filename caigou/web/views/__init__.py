"""The web interface's routers, one per concern; ``caigou.web.app.create_app`` includes them all."""
