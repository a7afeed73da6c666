"""segment-tui: segment customers by payment behaviour, set their dunning condition."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segment-tui")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
