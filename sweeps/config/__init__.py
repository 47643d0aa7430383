"""The config: its schema, the YAML loader and the dataset it names."""
