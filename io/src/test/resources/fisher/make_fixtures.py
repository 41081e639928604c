#!/usr/bin/env python3
"""Writes the fixtures of ugm's Fisher tests (io/src/test/resources/fisher): optimizer states
saved as training runs save them, and the Fisher values they must give.

Run from this folder with a PyTorch (made with Debian's python3-torch, PyTorch 1.13):
    /usr/bin/python3 make_fixtures.py
transformers and the ivon and deepspeed packages are not installed here, so the script builds
what they would write with plain PyTorch: the model classes register their modules in the order
the transformers classes do (Llama, Qwen2), the optimizer is grouped as the Hugging Face
Trainer groups it (create_optimizer: parameters that get weight decay, then the rest), and the
IVON and DeepSpeed files hold the structures those libraries save. Every run draws the same
numbers (fixed seeds, CPU); only zip timestamps change. The tests read these files and never
need Python.

Each expected_*.safetensors holds, in float64, what `ugm fisher` must write, computed here from
the optimizer state by the formula, with the names this script knows from the live model (the
Java code rebuilds them without it):
    Adam/AdamW: exp_avg_sq / (1 - beta2 ** step)      IVON: the group's hess, cut per parameter
"""
import collections
import json
import math
import os
import struct
import sys
import types

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


def path(*parts):
    p = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


# ---------------------------------------------------------------------------------------------
# Files as the Hugging Face libraries write them.
# ---------------------------------------------------------------------------------------------
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(file, tensors, metadata=None):
    """The safetensors format: 8-byte header length, JSON header, data. Tensors of one dtype are
    laid out by name, as the safetensors library does; the header is padded with spaces to 8."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(file, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_pretrained(model, folder, config, safe=True):
    """model.safetensors without the weights tied to others (as save_pretrained drops them), or
    pytorch_model.bin: torch.save of the whole state dict, tied names sharing one storage."""
    sd = model.state_dict()
    if safe:
        seen, out = {}, collections.OrderedDict()
        for k, v in sd.items():
            key = (v.data_ptr(), v.numel())
            if key in seen:
                continue
            seen[key] = k
            out[k] = v
        write_safetensors(path(folder, "model.safetensors"), out, {"format": "pt"})
    else:
        torch.save(sd, path(folder, "pytorch_model.bin"))
    with open(path(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def trainer_state(folder, global_step, epoch, batch, epochs, losses):
    """The fields of the Trainer's trainer_state.json that ugm reads, and a few others."""
    state = {
        "best_metric": None, "best_model_checkpoint": None, "epoch": epoch, "eval_steps": 500,
        "global_step": global_step, "is_hyper_param_search": False, "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": [{"epoch": (i + 1) * epoch / global_step, "learning_rate": 0.01, "loss": round(l, 4),
                         "step": i + 1} for i, l in enumerate(losses)],
        "logging_steps": 1, "max_steps": global_step, "num_input_tokens_seen": 0, "num_train_epochs": epochs,
        "save_steps": global_step, "total_flos": 0.0, "train_batch_size": batch, "trial_name": None,
        "trial_params": None,
    }
    with open(path(folder, "trainer_state.json"), "w") as f:
        json.dump(state, f, indent=2)


# ---------------------------------------------------------------------------------------------
# Decoder models registered as transformers' LlamaForCausalLM and Qwen2ForCausalLM register
# theirs: model (embed_tokens, layers[i] (self_attn (q, k, v, o), mlp (gate, up, down),
# input_layernorm, post_attention_layernorm), norm), lm_head. Qwen2 has q/k/v biases.
# ---------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class Attention(nn.Module):
    def __init__(self, c, qkv_bias):
        super().__init__()
        self.heads, self.kv_heads, self.dim = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.heads * self.dim, bias=qkv_bias)
        self.k_proj = nn.Linear(h, self.kv_heads * self.dim, bias=qkv_bias)
        self.v_proj = nn.Linear(h, self.kv_heads * self.dim, bias=qkv_bias)
        self.o_proj = nn.Linear(self.heads * self.dim, h, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.dim).transpose(1, 2)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dim)
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, self.heads * self.dim)
        return self.o_proj(y)


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c, qkv_bias):
        super().__init__()
        self.self_attn = Attention(c, qkv_bias)
        self.mlp = Mlp(c)
        self.input_layernorm = RMSNorm(c["hidden_size"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"])

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderModel(nn.Module):
    def __init__(self, c, qkv_bias):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(c, qkv_bias) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"])

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class ForCausalLM(nn.Module):
    def __init__(self, c, qkv_bias=False):
        super().__init__()
        self.model = DecoderModel(c, qkv_bias)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c["tie_word_embeddings"]:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids):
        return self.lm_head(self.model(ids))


NORM_TYPES = (nn.LayerNorm, RMSNorm)  # transformers' ALL_LAYERNORM_LAYERS, with the RMSNorm classes registered there


def decay_parameter_names(model):
    """As the Trainer's get_decay_parameter_names: parameters outside LayerNorm-like modules whose
    names do not contain 'bias'."""
    names = []
    for module_name, module in model.named_modules():
        if isinstance(module, NORM_TYPES):
            continue
        for n, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{n}" if module_name else n
            if "bias" not in full:
                names.append(full)
    return names


def trainer_groups(model, weight_decay=0.01):
    """The Trainer's create_optimizer: group 0 decays, group 1 does not; each in named_parameters()
    order, only parameters that require gradients."""
    decay = set(decay_parameter_names(model))
    return [
        {"params": [p for n, p in model.named_parameters() if n in decay and p.requires_grad], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if n not in decay and p.requires_grad], "weight_decay": 0.0},
    ]


def train(model, optimizer, data, batch, epochs, vocab):
    """Next-token cross entropy, in order, `epochs` passes over `data` in batches of `batch`."""
    losses = []
    for _ in range(epochs):
        for i in range(0, len(data), batch):
            ids = data[i:i + batch]
            logits = model(ids[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def names_by_param(model):
    return {id(p): n for n, p in model.named_parameters()}


def adam_expected(model, optimizer):
    """exp_avg_sq / (1 - beta2 ** step), in float64, by parameter name."""
    names = names_by_param(model)
    out = collections.OrderedDict()
    for group in optimizer.param_groups:
        beta2 = group["betas"][1]
        for p in group["params"]:
            st = optimizer.state[p]
            step = float(st["step"])
            out[names[id(p)]] = st["exp_avg_sq"].double() / (1.0 - beta2 ** step)
    return out


LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 16, "hidden_size": 8,
         "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
         "head_dim": 4, "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "torch_dtype": "float32"}
QWEN2 = dict(LLAMA, architectures=["Qwen2ForCausalLM"], model_type="qwen2", num_hidden_layers=1,
             tie_word_embeddings=True)


def tokens(seed, n, length, low, high):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, (n, length), generator=g)


# ---------------------------------------------------------------------------------------------
# 1. Llama: a base and two tasks fine-tuned from it with AdamW as the Trainer runs it, saved as
#    checkpoint-6/{model.safetensors, config.json, optimizer.pt, trainer_state.json}; the Fisher
#    each must give, and the gradient-matching merge of the two with those Fishers.
# ---------------------------------------------------------------------------------------------
LLAMA_TASKS = {  # name: (seed of the data, examples, batch, epochs, token range)
    "task-a": (11, 12, 4, 2, (0, 10)),
    "task-b": (12, 8, 4, 3, (6, 16)),
}
BETAS = (0.9, 0.98)
DELTA0 = 1e-3


def write_llama():
    torch.manual_seed(1)
    base = ForCausalLM(LLAMA)
    save_pretrained(base, "llama/base", LLAMA)
    thetas, fishers, scales = {}, {}, {}
    for task, (seed, n, batch, epochs, (low, high)) in LLAMA_TASKS.items():
        model = ForCausalLM(LLAMA)
        model.load_state_dict(base.state_dict())
        opt = torch.optim.AdamW(trainer_groups(model), lr=0.01, betas=BETAS, eps=1e-8)
        losses = train(model, opt, tokens(seed, n, 6, low, high), batch, epochs, LLAMA["vocab_size"])
        steps = len(losses)
        folder = f"llama/{task}/checkpoint-{steps}"
        save_pretrained(model, folder, LLAMA)
        torch.save(opt.state_dict(), path(folder, "optimizer.pt"))
        trainer_state(folder, steps, float(epochs), batch, epochs, losses)
        if task == "task-a":
            write_fsdp(model, opt)
        expected = adam_expected(model, opt)
        write_safetensors(path("llama", task, "expected_fisher.safetensors"), expected)
        thetas[task] = {k: v.double() for k, v in model.state_dict().items()}
        fishers[task] = expected
        scales[task] = steps * batch / epochs  # examples: global_step x batch / epoch = n
        assert scales[task] == n
    # Gradient matching, no base Fisher: P0 = delta0,
    #   theta = theta0 + sum_t (P0 + s_t H_t) (theta_t - theta0) / (P0 + sum_t s_t H_t)
    merged = collections.OrderedDict()
    for name, t0 in base.state_dict().items():
        t0 = t0.double()
        hbar = DELTA0 + sum(scales[t] * fishers[t][name] for t in LLAMA_TASKS)
        step = sum((DELTA0 + scales[t] * fishers[t][name]) * (thetas[t][name] - t0) for t in LLAMA_TASKS)
        merged[name] = t0 + step / hbar
    write_safetensors(path("llama", "expected_merge.safetensors"), merged)


def write_fsdp(model, opt):
    """task-a's optimizer state keyed by parameter names, as FSDP's full optimizer state dict
    (FSDP.optim_state_dict) saves it: 'state' and each group's 'params' hold names."""
    names = names_by_param(model)
    sd = opt.state_dict()
    ordered = [names[id(p)] for g in opt.param_groups for p in g["params"]]
    state = {ordered[i]: v for i, v in sd["state"].items()}
    groups = [dict(g, params=[ordered[i] for i in g["params"]]) for g in sd["param_groups"]]
    torch.save({"state": state, "param_groups": groups}, path("fsdp", "optimizer.pt"))


# ---------------------------------------------------------------------------------------------
# 2. Qwen2: q/k/v biases and tied embeddings (lm_head.weight is model.embed_tokens.weight, so
#    named_parameters() and model.safetensors leave it out).
# ---------------------------------------------------------------------------------------------
def write_qwen2():
    torch.manual_seed(2)
    model = ForCausalLM(QWEN2, qkv_bias=True)
    opt = torch.optim.AdamW(trainer_groups(model), lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    losses = train(model, opt, tokens(21, 4, 6, 0, 16), 2, 2, QWEN2["vocab_size"])
    folder = f"qwen2/checkpoint-{len(losses)}"
    save_pretrained(model, folder, QWEN2)
    torch.save(opt.state_dict(), path(folder, "optimizer.pt"))
    trainer_state(folder, len(losses), 2.0, 2, 2, losses)
    write_safetensors(path("qwen2", "expected_fisher.safetensors"), adam_expected(model, opt))


# ---------------------------------------------------------------------------------------------
# 3. A model of no family ugm knows, saved as pytorch_model.bin: its pickled state dict carries
#    the parameter order (registration order, not alphabetical), with an int64 buffer, a weight
#    tied to another (one storage), and a parameter the forward pass never uses (in the
#    optimizer's group, but without state).
# ---------------------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6)
        self.ln = nn.LayerNorm(6)

    def forward(self, x):
        return x + self.ln(self.proj(x)).tanh()


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.zeta = nn.Embedding(10, 6)
        self.register_buffer("position_ids", torch.arange(5, dtype=torch.int64))
        self.blocks = nn.ModuleList([Block(), Block()])
        self.unused = nn.Linear(6, 3)
        self.alpha = nn.Linear(6, 10, bias=False)
        self.alpha.weight = self.zeta.weight  # tied

    def forward(self, ids):
        x = self.zeta(ids)
        for b in self.blocks:
            x = b(x)
        return self.alpha(x)


def write_custom():
    torch.manual_seed(3)
    model = Custom()
    opt = torch.optim.AdamW(trainer_groups(model), lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    losses = train(model, opt, tokens(31, 6, 5, 0, 10), 3, 1, 10)
    folder = f"custom/checkpoint-{len(losses)}"
    save_pretrained(model, folder, {"architectures": ["UgmTinyModel"], "model_type": "ugm-tiny"}, safe=False)
    torch.save(opt.state_dict(), path(folder, "optimizer.pt"))
    trainer_state(folder, len(losses), 1.0, 3, 1, losses)
    names = names_by_param(model)
    expected = collections.OrderedDict()
    for group in opt.param_groups:
        for p in group["params"]:
            if p in opt.state:
                st = opt.state[p]
                expected[names[id(p)]] = st["exp_avg_sq"].double() / (1.0 - group["betas"][1] ** float(st["step"]))
    write_safetensors(path("custom", "expected_fisher.safetensors"), expected)
    with open(path("custom", "param_order.txt"), "w") as f:
        f.write("".join(n + "\n" for n, p in model.named_parameters() if p.requires_grad))


# ---------------------------------------------------------------------------------------------
# 4. IVON (team-approx-bayes/ivon): the optimizer's state_dict as IVON's holds it, built by hand
#    (the ivon package is not installed). One group over model.parameters(); the group holds
#    'hess' and 'momentum' as flat vectors of the group's parameters in order, and 'numel',
#    'ess', 'hess_init', 'beta1', 'beta2', 'weight_decay', ...; 'state' has string keys.
# ---------------------------------------------------------------------------------------------
def write_ivon():
    torch.manual_seed(4)
    model = ForCausalLM(dict(LLAMA, num_hidden_layers=1))
    folder = "ivon/run"
    save_pretrained(model, folder, dict(LLAMA, num_hidden_layers=1))
    params = list(model.parameters())
    numel = sum(p.numel() for p in params)
    g = torch.Generator().manual_seed(41)
    hess = (torch.rand(numel, generator=g, dtype=torch.float64) * 2.0 + 0.01).float()
    group = {"lr": 0.1, "mc_samples": 1, "beta1": 0.9, "beta2": 0.99999, "weight_decay": 1e-4, "hess_init": 0.1,
             "ess": 5000.0, "clip_radius": float("inf"), "params": list(range(len(params))), "numel": numel,
             "momentum": torch.zeros(numel), "hess": hess}
    state = {"state": {"count": 0, "avg_grad": None, "avg_nxg": None, "avg_gsq": None}, "param_groups": [group]}
    torch.save(state, path(folder, "optimizer.pt"))
    expected, offset = collections.OrderedDict(), 0
    for n, p in model.named_parameters():
        expected[n] = hess[offset:offset + p.numel()].double().reshape(p.shape)
        offset += p.numel()
    write_safetensors(path("ivon", "expected_fisher.safetensors"), expected)


# ---------------------------------------------------------------------------------------------
# 5. A DeepSpeed universal checkpoint (ds_to_universal.py): zero/<name>/exp_avg_sq.pt holding
#    {'param': tensor, 'cat_dim': 0}, zero/<name>/step.pt the step, zero/optimizer_state.pt the
#    param groups (betas). Written from an AdamW run; the model beside it. bad/ has an
#    optimizer_state.pt that also pickles a loss-scaler object, as DeepSpeed's ZeRO does.
# ---------------------------------------------------------------------------------------------
def write_deepspeed():
    torch.manual_seed(5)
    c = dict(LLAMA, num_hidden_layers=1)
    model = ForCausalLM(c)
    opt = torch.optim.AdamW(trainer_groups(model), lr=0.01, betas=(0.9, 0.95), eps=1e-8)
    train(model, opt, tokens(51, 5, 6, 0, 16), 1, 1, c["vocab_size"])
    save_pretrained(model, "deepspeed/checkpoint-5", c)
    names = names_by_param(model)
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state[p]
            folder = f"deepspeed/checkpoint-5/global_step5_universal/zero/{names[id(p)]}"
            torch.save({"param": st["exp_avg_sq"].clone(), "cat_dim": 0}, path(folder, "exp_avg_sq.pt"))
            torch.save(st["step"].clone(), path(folder, "step.pt"))
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]]
    for i, g in enumerate(groups):
        g["params"] = list(range(len(opt.param_groups[i]["params"])))
    common = {"param_groups": groups, "zero_stage": 2, "partition_count": [1, 1], "ds_version": "0.14.0",
              "dynamic_loss_scale": False, "overflow": False, "clip_grad": 1.0}
    torch.save(common, path("deepspeed/checkpoint-5/global_step5_universal/zero/optimizer_state.pt"))
    write_safetensors(path("deepspeed", "expected_fisher.safetensors"), adam_expected(model, opt))

    # The same with a pickled object of a class (a loss scaler): ugm refuses to build it.
    module = types.ModuleType("deepspeed.runtime.fp16.loss_scaler")

    class LossScaler:
        def __init__(self):
            self.cur_scale = 1.0

    LossScaler.__module__ = module.__name__
    LossScaler.__qualname__ = "LossScaler"
    module.LossScaler = LossScaler
    sys.modules[module.__name__] = module
    torch.save(dict(common, loss_scaler=LossScaler()), path("deepspeed", "bad", "optimizer_state.pt"))


# ---------------------------------------------------------------------------------------------
# 6. A ready exp_avg_sq.safetensors keyed by parameter names (as dumped from a ZeRO-3 run), from
#    an AdamW run of 7 steps with beta2 0.999; the step and beta2 are given on the command line.
# ---------------------------------------------------------------------------------------------
def write_exp_avg_sq():
    torch.manual_seed(6)
    c = dict(LLAMA, num_hidden_layers=1)
    model = ForCausalLM(c)
    opt = torch.optim.AdamW(trainer_groups(model), lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    train(model, opt, tokens(61, 7, 6, 0, 16), 1, 1, c["vocab_size"])
    names = names_by_param(model)
    raw = collections.OrderedDict()
    for group in opt.param_groups:
        for p in group["params"]:
            raw[names[id(p)]] = opt.state[p]["exp_avg_sq"]
            assert float(opt.state[p]["step"]) == 7.0
    write_safetensors(path("exp_avg_sq", "export", "exp_avg_sq.safetensors"), raw)
    save_pretrained(model, "exp_avg_sq/model", c)
    write_safetensors(path("exp_avg_sq", "expected_fisher.safetensors"), adam_expected(model, opt))


def main():
    write_llama()
    write_qwen2()
    write_custom()
    write_ivon()
    write_deepspeed()
    write_exp_avg_sq()
    total = 0
    for root, dirs, files in sorted(os.walk(HERE)):
        dirs.sort()
        for n in sorted(files):
            if not n.endswith((".py", ".md")):
                p = os.path.join(root, n)
                total += os.path.getsize(p)
                print(f"{os.path.relpath(p, HERE):90s} {os.path.getsize(p):6d} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
