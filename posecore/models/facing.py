"""The facing probe's network: does the torso in a person-centred crop face the camera?

A probe of the *data*, not of any pose network (chapter 00): if a small classifier trained briefly on
lab crops cannot say whether a body faces the camera, the images do not show it, and no 2D network can
be asked to tell a left joint from its right partner (the answer depends on the facing once the
clothes are the same on both sides). :class:`FacingNet` -- four stages (16, 32, 64, 64 channels), each a
stride-2 3x3 convolution followed by ``depth - 1`` stride-1 3x3 convolutions (BatchNorm, ReLU after
each), global average pooling, one linear layer -> a logit (B,). Training and data:
:mod:`posecore.recipes.facing_probe`.
"""
from __future__ import annotations

import torch
from torch import nn


class FacingNet(nn.Module):
    """(B, 3, R, R) images in [0, 1] -> (B,) logits, > 0: the chest faces the camera."""

    def __init__(self, widths: tuple = (16, 32, 64, 64), depth: int = 2):
        super().__init__()
        assert depth >= 1, f"FacingNet: depth (convolutions per stage) must be >= 1, got {depth}"
        layers, cin = [], 3
        for w in widths:
            for k in range(depth):
                layers += [nn.Conv2d(cin, w, 3, stride=2 if k == 0 else 1, padding=1, bias=False),
                           nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                cin = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.ndim == 4 and images.shape[1] == 3, f"FacingNet: images (B, 3, R, R), got {tuple(images.shape)}"
        f = self.body(images - 0.5)                 # (B, C, R/16, R/16)
        return self.head(f.mean((2, 3)))[:, 0]     # (B,)
