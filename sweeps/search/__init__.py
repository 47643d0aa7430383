"""The search: study, sampler and pruner, the space, objectives and warm start."""
