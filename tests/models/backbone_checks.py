"""Shared checks for the backbone tests (not collected: no ``test_`` prefix)."""
import torch


def count_params(module):
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def forward_backward(model, size=(224, 224), batch=1, seed=0):
    """Run one training step on random input; return the output shapes and the model."""
    torch.manual_seed(seed)
    model.train()
    x = torch.randn(batch, 3, *size, requires_grad=True)
    outs = model(x)
    loss = sum(o.float().pow(2).mean() for o in outs)
    loss.backward()
    assert torch.isfinite(loss)
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    return [tuple(o.shape) for o in outs], missing
