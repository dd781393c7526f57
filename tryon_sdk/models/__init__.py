"""The networks and their weights: builders, backbones, ImageNet initialisation, checkpoints and the model registry."""
