"""Router configuration: the model, and loading it from YAML."""

from .loader import ConfigError, load, parse
from .model import RouterConfig

__all__ = ["ConfigError", "RouterConfig", "load", "parse"]
