"""opskit: deploy, observe and cost the serverless API gateway."""

__version__ = "0.1.0"
