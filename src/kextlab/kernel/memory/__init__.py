"""Memory: device memory ranges and their mappings (descriptors and DMA arrive with
the driver runtime)."""
