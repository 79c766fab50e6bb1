"""The latent explorer behind ``vaekit serve``: ``explorer`` answers the questions (no web
dependencies), ``app`` serves them and the page in ``static/`` (Starlette on uvicorn, the
``[serve]`` extra)."""
