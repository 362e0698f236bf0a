"""genzoo's optimizers run without importing ``torch._dynamo`` (a second of start-up), give bitwise the
same updates as PyTorch's own wrappers, and hand over to those wrappers once dynamo is loaded."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import MINI_FASHION

# Trains a small net with every optimizer genzoo offers (with a scheduler, a step hook and a state round
# trip); prints the weights' checksum per optimizer and whether torch._dynamo got imported.
_UPDATES = """
import json, sys, warnings
import torch
if sys.argv[1] == "dynamo-first":
    import torch._dynamo
from genzoo.config import OptimConfig
from genzoo.training.gradient import make_optimizer
warnings.simplefilter("error")   # e.g. the scheduler's "lr_scheduler.step() before optimizer.step()"
sums, hooks = {}, 0
for name in ("adam", "adamw", "nadam", "rmsprop", "sgd"):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    opt = make_optimizer(OptimConfig(name=name, lr=1e-2, momentum=0.9), list(net.parameters()))
    def hook(o, args, kwargs):
        global hooks
        hooks += 1
    opt.register_step_post_hook(hook)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** e)
    for i in range(4):
        opt.zero_grad(set_to_none=True)
        net(torch.randn(5, 6)).pow(2).mean().backward()
        opt.step()
        sched.step()
        if i == 1:
            opt.load_state_dict(opt.state_dict())
    sums[name] = [float(p.detach().double().sum()) for p in net.parameters()]
print(json.dumps({"sums": sums, "hooks": hooks, "dynamo": "torch._dynamo" in sys.modules}))
"""


def _run(code: str, *args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_updates_match_pytorchs_wrappers_without_importing_dynamo():
    eager = _run(_UPDATES, "eager")
    reference = _run(_UPDATES, "dynamo-first")   # dynamo loaded first: PyTorch's wrappers run as shipped
    assert eager["dynamo"] is False and reference["dynamo"] is True
    assert eager["sums"] == reference["sums"]
    assert eager["hooks"] == reference["hooks"] == 5 * 4


_HANDOVER = """
import json, sys
import torch
from genzoo.training.eager_optim import defer_dynamo_import
patched = defer_dynamo_import()
net = torch.nn.Linear(3, 1)
opt = torch.optim.Adam(net.parameters(), lr=0.1)
net(torch.ones(2, 3)).sum().backward(); opt.step()
import torch._dynamo   # e.g. a user's torch.compile later in the same process
seen = []
orig = torch._dynamo.graph_break
torch._dynamo.graph_break = lambda: seen.append(1) or orig()
net(torch.ones(2, 3)).sum().backward(); opt.step(); opt.zero_grad()
compiled = torch.compile(lambda x: net(x) * 2, backend="eager")
print(json.dumps({"patched": patched, "graph_breaks": len(seen),
                  "compiled": compiled(torch.ones(1, 3)).shape[-1]}))
"""


def test_pytorchs_wrappers_take_over_once_dynamo_is_loaded():
    out = _run(_HANDOVER)
    assert out["patched"] > 0
    assert out["graph_breaks"] == 2   # PyTorch's step wrapper ran (it breaks the graph on both sides)
    assert out["compiled"] == 1


_TRAIN = """
import json, sys
from genzoo.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="genzoo", standalone_mode=False)
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps({"dynamo": "torch._dynamo" in sys.modules}))
"""


def test_a_training_run_never_imports_dynamo(tmp_path):
    out = _run(_TRAIN, "train", "homl-dcgan", "--data-dir", str(MINI_FASHION), "--max-steps", "2", "--out",
               str(tmp_path / "run"), "--no-progress", "--set", "tensorboard=false", "--set", "sample_n=4")
    assert out == {"dynamo": False}
    assert (tmp_path / "run" / "checkpoints" / "latest").exists()
