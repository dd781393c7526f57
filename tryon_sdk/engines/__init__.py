"""Engines that run the segmentation network: torch (CPU/GPU), ONNX Runtime, export and int8 quantisation."""
