"""bigan-repr: learn image representations with a BiGAN and measure how good they are."""

__version__ = "0.1.0"

from .features import load_encoder  # noqa: E402  (the version must exist before submodules import it)

__all__ = ["__version__", "load_encoder"]
