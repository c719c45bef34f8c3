"""Training on torch.distributed: `python -m archspec.train` under torchrun (see `__main__`)."""
