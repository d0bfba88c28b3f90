"""The ground floor: what every layer above may use and nothing here imports from above. The registry and plugin
packages, user errors, validation and settings declarations, output paths, devices, DDP glue, atomic checkpoints,
the stage clock, forked row workers and progress output."""
