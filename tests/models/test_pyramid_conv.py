"""PyramidConv2d equals a convolution over the concatenation of the upsampled parts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from humanparse.models.layers import PyramidConv2d


def _reference(conv: PyramidConv2d, parts, size):
    upsampled = [
        p
        if tuple(p.shape[-2:]) == size
        else F.interpolate(p, size, mode="bilinear", align_corners=conv.align_corners)
        for p in parts
    ]
    return F.conv2d(torch.cat(upsampled, 1), conv.weight, conv.bias, 1, conv.padding, conv.dilation)


@pytest.mark.parametrize("align_corners", [False, True])
# (5, 5) and (3, 4): the 6x6 pooled part is larger than the output (small inputs at output stride 16)
@pytest.mark.parametrize(
    "size, dilation, kernel",
    [((60, 60), 1, 3), ((31, 30), 2, 3), ((17, 13), 1, 1), ((5, 5), 1, 3), ((3, 4), 2, 3)],
)
@pytest.mark.parametrize("input_first", [True, False])
def test_matches_conv_over_the_concatenation(align_corners, size, dilation, kernel, input_first):
    torch.manual_seed(0)
    conv = PyramidConv2d(
        32 + 4 * 8,
        16,
        kernel,
        padding=dilation * (kernel // 2),
        dilation=dilation,
        align_corners=align_corners,
    )
    x = torch.randn(2, 32, *size, requires_grad=True)
    pooled = [torch.randn(2, 8, s, s, requires_grad=True) for s in (1, 2, 3, 6)]
    parts = [x, *pooled] if input_first else [*pooled, x]
    expected = _reference(conv, parts, size)
    actual = conv(parts, size=size)
    assert float((actual - expected).detach().norm() / expected.detach().norm()) < 1e-5
    # the gradients flow to every part as through the concatenation
    grad = torch.randn_like(expected)
    expected_grads = torch.autograd.grad(expected, [x, *pooled, conv.weight], grad)
    actual_grads = torch.autograd.grad(actual, [x, *pooled, conv.weight], grad)
    for a, e in zip(actual_grads, expected_grads):
        assert float((a - e).norm() / e.norm()) < 1e-5


def test_a_plain_tensor_is_an_ordinary_convolution():
    conv = PyramidConv2d(4, 3, 3, padding=1)
    x = torch.randn(1, 4, 9, 9)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1))


def test_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="stride 1"):
        PyramidConv2d(4, 3, 3, padding=1, stride=2)
    conv = PyramidConv2d(12, 3, 3, padding=1)
    with pytest.raises(ValueError, match="channels"):
        conv([torch.randn(1, 4, 9, 9), torch.randn(1, 4, 2, 2)], size=(9, 9))
    with pytest.raises(ValueError, match="output size"):
        conv([torch.randn(1, 4, 9, 9), torch.randn(1, 8, 2, 2)])
