# salesgate's pytest plugin is opt-in: this line gives these tests its fixtures
# (salesgate_gate_factory, salesgate_seed_policy) and makes the contract suite work.
pytest_plugins = ["salesgate.testing"]
