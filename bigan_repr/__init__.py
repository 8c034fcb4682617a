"""bigan-repr: learn image representations with a BiGAN and measure how good they are."""

__version__ = "0.1.0"
__all__ = ["__version__", "load_encoder", "read_features"]


def __getattr__(name: str):
    # imported on first use, so light modules (atomic writes, config) load without torch
    if name == "load_encoder":
        from .features.encoder import load_encoder

        return load_encoder
    if name == "read_features":
        from .features.files import read_features

        return read_features
    raise AttributeError(f"module 'bigan_repr' has no attribute {name!r}")
