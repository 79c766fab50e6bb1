"""An autoregressive prior over a VQ-VAE's codes: a small causal transformer over the M slots,
p(c) = prod_m p(c_m | c_<m) (the role of the PixelCNN prior of van den Oord et al. 2017; here the
codes are a sequence of slots, not a grid, and a transformer models every earlier slot at once).

Why a transformer and not a gated PixelCNN: vaekit's VQ latent is M slots of one flat vector
(``--latent-dim / --code-dim``), for the MLP and the conv networks alike, so there is no spatial grid
for masked convolutions to exploit; with M in the tens, full causal attention is cheap.
"""

from __future__ import annotations

import torch
from torch import nn


class CodeTransformer(nn.Module):
    """p(c_m | c_<m) for code sequences (N, M) over K codes: a start token, learned positions, a
    causal ``nn.TransformerEncoder`` (pre-norm, no dropout), a linear head to K logits."""

    def __init__(self, codebook_size: int, slots: int, width: int = 128, layers: int = 2, heads: int = 4):
        super().__init__()
        self.codebook_size, self.slots = codebook_size, slots
        self.embed = nn.Embedding(codebook_size + 1, width)  # index K is the start token
        self.position = nn.Parameter(0.02 * torch.randn(slots, width))  # (M, E)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, codebook_size)
        self.register_buffer("causal", torch.triu(torch.full((slots, slots), float("-inf")), diagonal=1), persistent=False)

    def logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Logits of each slot given the slots before it: codes (N, M) -> (N, M, K)."""
        start = torch.full_like(codes[:, :1], self.codebook_size)  # (N, 1)
        inputs = torch.cat([start, codes[:, :-1]], dim=1)  # (N, M): slot m sees c_<m
        h = self.embed(inputs) + self.position  # (N, M, E)
        return self.head(self.norm(self.body(h, mask=self.causal, is_causal=True)))  # (N, M, K)

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """log p(c) = sum_m log p(c_m | c_<m): (N, M) -> (N,) nats."""
        log_p = torch.log_softmax(self.logits(codes), dim=-1)  # (N, M, K)
        return log_p.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(-1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
        """n code sequences (n, M), slot by slot; ``temperature`` divides the logits (0: the most likely
        code), ``top_k`` keeps only the k most likely codes of each slot."""
        device = self.position.device
        codes = torch.zeros(n, self.slots, dtype=torch.long, device=device)  # (n, M)
        for m in range(self.slots):
            logits = self.logits(codes)[:, m]  # (n, K): slot m depends on the slots already drawn
            if top_k is not None and top_k < self.codebook_size:
                cut = logits.topk(top_k, dim=-1).values[:, -1:]  # (n, 1)
                logits = logits.masked_fill(logits < cut, float("-inf"))
            if temperature == 0:
                codes[:, m] = logits.argmax(-1)
            else:
                codes[:, m] = torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=generator).squeeze(-1)
        return codes
