"""auratag's models in PyTorch: one importable file, no dependency on the
auratag build (docs/export.md).

    import auratag_torch
    net = auratag_torch.load("weights.h5")       # a weights file, checkpoint or best.h5
    net.eval()
    logits = net(spectrogram)                    # [batch, channels, frequency, time] -> [batch, classes]
    probabilities = net.probabilities(logits)
    print(net.tags)                              # what the outputs mean (None when not named)

`load` builds an nn.Module from the file's own model config (every layer type
auratag has) and loads its parameters and batch-norm statistics; the
state_dict uses PyTorch's naming, LAYER.weight, LAYER.bias,
LAYER.running_mean, LAYER.running_var, LAYER.num_batches_tracked, with
auratag's layer names. The module trains in PyTorch like any other.

It is also the PyTorch twin of the tests (tests/oracle/): written from the
config format alone, with the layer semantics of torch.nn.functional, so a
match with auratag means both read the config the same way and compute the
same function. For that use it can follow auratag's dropout masks, max-pool
switches and ReLU decisions (dropout_masks, pool_switches, relu_masks).
Shapes: NCHW, H = frequency, W = time. Needs torch, numpy, and h5py for load().
"""
import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_ini(text):
    """Returns [(type, {key: value})] in file order; comments stripped."""
    sections = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        line = re.split(r"\s[;#]", line)[0].strip()
        if line.startswith("["):
            sections.append((line[1:line.index("]")].strip(), {}))
        else:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections


def pair(text, default=None):
    if text is None:
        return default
    if "x" in text:
        a, b = text.split("x")
        return int(a), int(b)
    return int(text), int(text)


def same_pad(size, k, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


class AuratagLayer(nn.Module):
    """One layer of the config: its parameters and buffers under PyTorch's names."""

    def __init__(self, kind, name, opts, inputs):
        super().__init__()
        self.kind, self.name, self.opts, self.inputs = kind, name, opts, inputs

    def add_param(self, key, tensor):
        self.register_parameter(key, nn.Parameter(tensor))

    def add_buffer(self, key, tensor):
        self.register_buffer(key, tensor)

    @property
    def params(self):
        return dict(self.named_parameters(recurse=False))

    @property
    def buffers_(self):
        return {k: v for k, v in self.named_buffers(recurse=False) if k != "num_batches_tracked"}


class AuratagNet(nn.Module):
    """The graph of an auratag model config."""

    def __init__(self, config_text, dtype=torch.float32):
        super().__init__()
        sections = parse_ini(config_text)
        mtype, mopts = sections[0]
        assert mtype == "model", "a model config starts with [model]"
        h, w, *c = [int(v) for v in mopts["input"].split("x")]
        self.input_shape = (c[0] if c else 1, h, w)
        self.activation = mopts.get("output", "sigmoid")
        self.model_name = mopts.get("name", "model")
        self.tags = None
        self.layers = []
        self.dropout_masks = {}  # name -> uint8 tensor, used instead of random masks
        self.pool_switches = {}  # name -> int32 argmax per window (index in the input plane)
        self.relu_masks = {}  # name -> uint8, 1 where auratag's ReLU passed its input
        self.pool_tie_violations = []  # switches / ReLU decisions not explained by rounding
        counters = {}
        shapes = {"input": self.input_shape}
        prev = "input"
        for kind, opts in sections[1:]:
            counters[kind] = counters.get(kind, 0) + 1
            name = opts.get("name", f"{kind}{counters[kind]}")
            if kind in ("concat", "add"):
                inputs = [s.strip() for s in re.split(r"[,\s]+", opts["inputs"]) if s.strip()]
            else:
                inputs = [opts.get("input", prev)]
            layer = AuratagLayer(kind, name, opts, inputs)
            shapes[name] = self._build(layer, [shapes[i] for i in inputs], dtype)
            if hasattr(self, name):
                raise ValueError(f"layer name '{name}' is taken by an attribute of the module; rename the layer")
            self.add_module(name, layer)
            self.layers.append(layer)
            prev = name
        self.output_shape = shapes[prev]

    def _build(self, L, in_shapes, dtype):
        c, h, w = in_shapes[0]
        o = L.opts
        if L.kind in ("conv", "conv1d"):
            f = int(o["filters"])
            if L.kind == "conv":
                kh, kw = pair(o["size"])
                sh, sw = pair(o.get("stride"), (1, 1))
                cin, hin = c, h
            else:
                kh, kw = 1, int(o["size"])
                sh, sw = 1, int(o.get("stride", 1))
                cin, hin = c * h, 1
            pad = o.get("padding", "same")
            if pad == "same":
                pt, pb = same_pad(hin, kh, sh) if L.kind == "conv" else (0, 0)
                pl, pr = same_pad(w, kw, sw)
            elif pad == "valid":
                pt = pb = pl = pr = 0
            else:
                v = [int(x) for x in re.split(r"[,x]", pad)]
                if L.kind == "conv1d":
                    pt = pb = 0
                    pl, pr = (v[0], v[0]) if len(v) == 1 else v
                elif len(v) == 1:
                    pt = pb = pl = pr = v[0]
                elif len(v) == 2:
                    pt, pb, pl, pr = v[0], v[0], v[1], v[1]
                else:
                    pt, pb, pl, pr = v
            L.geom = (kh, kw, sh, sw, pt, pb, pl, pr, L.kind == "conv1d")
            shape = (f, cin, kw) if L.kind == "conv1d" else (f, cin, kh, kw)
            L.add_param("weight", torch.zeros(shape, dtype=dtype))
            if o.get("bias", "1") in ("1", "true", "yes", "on"):
                L.add_param("bias", torch.zeros(f, dtype=dtype))
            return (f, (hin + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1)
        if L.kind == "batchnorm":
            L.axis = o.get("axis", "channel")
            L.momentum = float(o.get("momentum", 0.1))
            L.eps = float(o.get("eps", 1e-5))
            n = c if L.axis == "channel" else h
            L.add_param("weight", torch.ones(n, dtype=dtype))
            L.add_param("bias", torch.zeros(n, dtype=dtype))
            L.add_buffer("running_mean", torch.zeros(n, dtype=dtype))
            L.add_buffer("running_var", torch.ones(n, dtype=dtype))
            L.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
            return (c, h, w)
        if L.kind in ("relu", "elu"):
            L.alpha = float(o.get("alpha", 1.0))
            return (c, h, w)
        if L.kind in ("maxpool", "avgpool"):
            g = o.get("global")
            if g == "frequency":
                kh, kw = h, 1
            elif g == "time":
                kh, kw = 1, w
            elif g == "all":
                kh, kw = h, w
            else:
                kh, kw = pair(o["size"])
            sh, sw = pair(o.get("stride"), (kh, kw))
            L.geom = (kh, kw, sh, sw)
            return (c, (h - kh) // sh + 1, (w - kw) // sw + 1)
        if L.kind == "dropout":
            L.p = float(o.get("p", 0.5))
            return (c, h, w)
        if L.kind == "dense":
            units, fan_in = int(o["units"]), c * h * w
            L.add_param("weight", torch.zeros((units, fan_in), dtype=dtype))
            if o.get("bias", "1") in ("1", "true", "yes", "on"):
                L.add_param("bias", torch.zeros(units, dtype=dtype))
            return (units, 1, 1)
        if L.kind == "concat":
            return (sum(s[0] for s in in_shapes), h, w)
        if L.kind == "add":
            return (c, h, w)
        if L.kind == "flatten":
            return (c * h * w, 1, 1)
        if L.kind == "reshape":
            hh, ww, cc = [int(v) for v in o["shape"].split("x")]
            return (cc, hh, ww)
        raise ValueError(f"unknown layer type {L.kind}")

    # ---- parameters under auratag's names (LAYER/NAME), as weights files hold them ----
    def named_tensors(self, trainable=True):
        for L in self.layers:
            for k, t in (L.params if trainable else L.buffers_).items():
                yield f"{L.name}/{k}", t

    def load_from(self, get):
        """get('LAYER/NAME') -> numpy array, for every parameter and statistic."""
        with torch.no_grad():
            for L in self.layers:
                for k, t in list(L.params.items()) + list(L.buffers_.items()):
                    t.copy_(torch.as_tensor(get(f"{L.name}/{k}"), dtype=t.dtype).reshape(t.shape))

    def init_random(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for L in self.layers:
                for k, t in L.params.items():
                    if k == "weight" and L.kind != "batchnorm":
                        t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype) * math.sqrt(2.0 / t[0].numel()))

    # ---- forward ----
    def forward(self, x):
        values = {"input": x}
        out = x
        for L in self.layers:
            out = self.apply_layer(L, [values[i] for i in L.inputs])
            values[L.name] = out
        return out.reshape(out.shape[0], -1)

    def probabilities(self, logits):
        return torch.sigmoid(logits) if self.activation == "sigmoid" else torch.softmax(logits, dim=1)

    def apply_layer(self, L, ins):
        x = ins[0]
        if L.kind in ("conv", "conv1d"):
            kh, kw, sh, sw, pt, pb, pl, pr, one_d = L.geom
            if one_d:
                n, c, h, w = x.shape
                y = F.conv1d(F.pad(x.reshape(n, c * h, w), (pl, pr)), L.params["weight"], L.params.get("bias"), stride=sw)
                return y.unsqueeze(2)
            return F.conv2d(F.pad(x, (pl, pr, pt, pb)), L.params["weight"], L.params.get("bias"), stride=(sh, sw))
        if L.kind == "batchnorm":
            args = (L.running_mean, L.running_var, L.weight, L.bias, L.training, L.momentum, L.eps)
            if L.training:
                L.num_batches_tracked += 1
            if L.axis == "channel":
                return F.batch_norm(x, *args)
            return F.batch_norm(x.transpose(1, 2), *args).transpose(1, 2)
        if L.kind == "relu":
            if L.name not in self.relu_masks:
                return F.relu(x)
            # Same idea as the pool switches: follow auratag's decision, after
            # checking that any disagreement sits within rounding of zero.
            on = torch.as_tensor(self.relu_masks[L.name]).bool()
            differ = on != (x > 0)
            if differ.any():
                gap = x.detach()[differ].abs().max().item()
                if gap > 1e-5 * max(x.detach().abs().max().item(), 1e-30):
                    self.pool_tie_violations.append(f"{L.name}: ReLU passes a value {gap:.3g} away from zero on the wrong side")
            return torch.where(on, x, torch.zeros_like(x))
        if L.kind == "elu":
            return F.elu(x, L.alpha)
        if L.kind == "maxpool":
            kh, kw, sh, sw = L.geom
            ref = F.max_pool2d(x, (kh, kw), (sh, sw))
            if L.name not in self.pool_switches:
                return ref
            # Route through the given switches (a near-tie may be broken either
            # way by float32 vs float64), after checking each picks a maximum.
            n, c, h, w = x.shape
            idx = torch.as_tensor(self.pool_switches[L.name]).long()
            y = torch.gather(x.reshape(n, c, h * w), 2, idx.reshape(n, c, -1)).reshape(ref.shape)
            gap = (ref - y).abs().max().item()
            scale = max(ref.abs().max().item(), 1e-30)
            if gap > 1e-5 * scale:
                self.pool_tie_violations.append(f"{L.name}: a switch selects a value {gap:.3g} below the window maximum")
            return y
        if L.kind == "avgpool":
            kh, kw, sh, sw = L.geom
            return F.avg_pool2d(x, (kh, kw), (sh, sw))
        if L.kind == "dropout":
            if not L.training or L.p == 0:
                return x
            if L.name in self.dropout_masks:
                mask = torch.as_tensor(self.dropout_masks[L.name]).to(x.dtype).reshape(x.shape)
                return x * mask / (1.0 - L.p)
            return F.dropout(x, L.p, True)
        if L.kind == "dense":
            return F.linear(x.reshape(x.shape[0], -1), L.params["weight"], L.params.get("bias")).reshape(x.shape[0], -1, 1, 1)
        if L.kind == "concat":
            return torch.cat(ins, dim=1)
        if L.kind == "add":
            out = ins[0]
            for t in ins[1:]:
                out = out + t
            return out
        if L.kind == "flatten":
            return x.reshape(x.shape[0], -1, 1, 1)
        if L.kind == "reshape":
            hh, ww, cc = [int(v) for v in L.opts["shape"].split("x")]
            return x.reshape(x.shape[0], cc, hh, ww)
        raise ValueError(L.kind)

    def loss(self, logits, targets):
        if self.activation == "sigmoid":
            return F.binary_cross_entropy_with_logits(logits, targets)
        return F.cross_entropy(logits, targets.long())


def load(path, dtype=torch.float32):
    """The model of an auratag weights file or checkpoint (.h5), or of a file
    `auratag export --format torch` wrote (.pt), with its weights and tags."""
    if not str(path).endswith(".h5"):
        saved = torch.load(path, map_location="cpu", weights_only=True)
        assert saved.get("format") == "auratag-torch", "not a file of auratag export --format torch"
        net = AuratagNet(saved["config"], dtype=dtype)
        net.load_state_dict(saved["state_dict"])
        net.tags = saved["tags"]
        return net
    import h5py
    import numpy as np

    with h5py.File(path, "r") as f:
        config = f.attrs["config"]
        net = AuratagNet(config.decode() if isinstance(config, bytes) else config, dtype=dtype)
        net.load_from(lambda name: np.asarray(f["params/" + name]))
        with torch.no_grad():
            for L in net.layers:
                if "params/%s/num_batches_tracked" % L.name in f:
                    L.num_batches_tracked.fill_(int(np.asarray(f["params/%s/num_batches_tracked" % L.name])))
        if "tags" in f:
            net.tags = [t.decode() if isinstance(t, bytes) else t for t in f["tags"][()]]
    return net
