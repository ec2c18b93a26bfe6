"""PCI: configuration space, functions, bridges, buses and the host bridge."""
