"""bigan-repr: learn image representations with a BiGAN and measure how good they are."""

__version__ = "0.1.0"
