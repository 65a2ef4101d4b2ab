"""The configuration: TOML validated up front (settings), the responder's sections (response), what each
network watches resolved once (deployment), and the commented example `watchdog init` writes."""

from watchdog.config.deployment import Deployment, ProtocolDeployment, deployments, resolve_protocols
from watchdog.config.example import EXAMPLE
from watchdog.config.response import ResponseConfig
from watchdog.config.settings import (DEFAULT_CONFIG, Settings, command_settings, load_settings, parse_settings,
                                      zero_config)

__all__ = ["DEFAULT_CONFIG", "EXAMPLE", "Deployment", "ProtocolDeployment", "ResponseConfig", "Settings", "command_settings",
           "deployments", "load_settings", "parse_settings", "resolve_protocols", "zero_config"]
