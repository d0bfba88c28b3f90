"""How far one training step's gradients on the GPU are from a float64 CPU step, per numeric mode.

Same seeded ResNet-18 weights and views; for float32 without TF32, float32 with TF32 (PyTorch's cuDNN default),
bf16 autocast with and without channels_last, and float32 on the CPU, prints the loss and the four parameters
whose gradient has the lowest cosine similarity to the float64 CPU gradient. Needs a CUDA GPU:

    python scripts/gpu_grad_precision.py > leaderboards/gpu/gradient_precision.log
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_bench.methods import build_method
from ssl_bench.models.backbones import build_backbone

MODES = ("fp32-notf32", "fp32-tf32", "bf16-cl", "bf16-nocl", "cpu-fp32")


def main() -> None:
    torch.manual_seed(0)
    for method in ("simclr", "vicreg"):
        reference_model = build_method(method, *build_backbone("resnet18", 1, 28)).double()
        views = [torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(i)).double() for i in range(2)]
        reference_model(list(views))["loss"].backward()
        reference = {name: p.grad.clone() for name, p in reference_model.named_parameters()}
        for mode in MODES:
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = mode != "fp32-notf32"
            device = "cpu" if mode == "cpu-fp32" else "cuda"
            layout = torch.channels_last if mode == "bf16-cl" else torch.contiguous_format
            model = build_method(method, *build_backbone("resnet18", 1, 28))
            model.load_state_dict({k: v.float() for k, v in reference_model.state_dict().items()})
            model = model.to(device, memory_format=layout)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode.startswith("bf16")):
                loss = model([v.float().to(device).contiguous(memory_format=layout) for v in views])["loss"]
            loss.backward()
            cosines = {name: F.cosine_similarity(reference[name].flatten(), p.grad.double().cpu().flatten(), dim=0).item()
                       for name, p in model.named_parameters() if reference[name].norm() > 1e-5}
            worst = sorted(cosines.items(), key=lambda item: item[1])[:4]
            print(method, mode, "loss", round(loss.item(), 5), "min cos", [(n, round(c, 4)) for n, c in worst],
                  flush=True)


if __name__ == "__main__":
    main()
