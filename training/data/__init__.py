"""Dataset loaders: every loader yields ``(image uint8 HxWx3 RGB, mask uint8 HxW in ATR ids / 255)``."""
