"""Engines that run the segmentation network: torch (CPU/GPU), ONNX Runtime and choosing it, flip TTA around any engine, export and int8 quantisation."""
