"""A numpy-backed stand-in for torch, for the IndexTTS2 contract tests only (see README.md).

It has what the adapter (indextts_dub/engines/indextts2.py) and the stand-in index-tts use:
tensors, generator seeds, no_grad, save/load, and nn.Module with forward pre-hooks."""
from __future__ import annotations

import contextlib
import pickle

import numpy as np

__version__ = "0.0+standin"
STANDIN = True

int16, int32, int64, long = np.int16, np.int32, np.int64, np.int64
float16, float32, bfloat16 = np.float16, np.float32, "bfloat16"

_rng = np.random.default_rng(0)
seeds: list[int] = []          # every manual_seed, for the tests


def manual_seed(seed: int):
    global _rng
    seeds.append(int(seed))
    _rng = np.random.default_rng(int(seed) & 0xFFFFFFFF)


def rng() -> np.random.Generator:
    """The stand-in's global generator (what torch's default generator is to the real model)."""
    return _rng


class Tensor:
    def __init__(self, data, device="cpu"):
        self.data = np.asarray(data)
        self.device = device

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def detach(self):
        return self

    def cpu(self):
        return Tensor(self.data, "cpu")

    def to(self, device=None, *args, **kwargs):
        return Tensor(self.data, device) if isinstance(device, str) else self

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __getitem__(self, index):
        return Tensor(self.data[index], self.device)

    def __len__(self):
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self):
        return f"standin.Tensor({self.data!r}, device={self.device!r})"


def tensor(data, dtype=None, device=None):
    return Tensor(np.asarray(data, dtype=dtype), device or "cpu")


def LongTensor(data):
    return Tensor(np.asarray(data, dtype=np.int64))


@contextlib.contextmanager
def no_grad():
    yield


inference_mode = no_grad


class _Cuda:
    @staticmethod
    def is_available():
        return False

    @staticmethod
    def manual_seed_all(seed):
        pass

    @staticmethod
    def empty_cache():
        pass


cuda = _Cuda()


def save(obj, f):
    pickle.dump(obj, f)


def load(f, map_location=None, weights_only=False):
    obj = pickle.load(f)
    if isinstance(map_location, str) and isinstance(obj, dict):
        obj = {k: v.to(map_location) if isinstance(v, Tensor) else v for k, v in obj.items()}
    return obj


class _Handle:
    def __init__(self, hooks, entry):
        self._hooks, self._entry = hooks, entry

    def remove(self):
        if self._entry in self._hooks:
            self._hooks.remove(self._entry)


class _NN:
    class Module:
        """Calls ``forward`` after its forward pre-hooks, as torch.nn.Module does."""

        def __init__(self):
            self._pre_hooks = []

        def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
            entry = (hook, with_kwargs)
            self._pre_hooks.insert(0, entry) if prepend else self._pre_hooks.append(entry)
            return _Handle(self._pre_hooks, entry)

        def __call__(self, *args, **kwargs):
            for hook, with_kwargs in list(self._pre_hooks):
                if with_kwargs:
                    out = hook(self, args, kwargs)
                    if out is not None:
                        args, kwargs = out
                else:
                    out = hook(self, args)
                    if out is not None:
                        args = out if isinstance(out, tuple) else (out,)
            return self.forward(*args, **kwargs)


nn = _NN()
