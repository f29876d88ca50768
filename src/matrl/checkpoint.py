"""Checkpoints that never execute code when loaded, written atomically.

Two kinds, both under ``run_dir/checkpoints``:
- ``iter_NNNNNN.safetensors``: the agents' networks (policy and value weights) with the run's config in the
  metadata; what `matrl evaluate` and cross-play read. Kept for every checkpointed iteration.
- ``state.pt``: the whole training state of the latest checkpoint (networks, optimisers, random generators,
  environment state) for ``--resume``; read with ``torch.load(weights_only=True)``, which refuses anything but
  tensors and plain containers.

Both carry a SHA-256 of their content (`content_digest`: every tensor's bytes, dtype and shape, every plain
value, and the safetensors metadata), verified on load: a bit flip in the weights or the state is refused
in one line instead of loading and training silently. The digest lives inside the file (the safetensors
metadata, the ``sha256`` entry of state.pt), so a checkpoint and its checksum are written by one atomic rename
and a file copied elsewhere is still verified. Files written before the checksums load unverified.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save

from matrl.fileio import write_atomically

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.pt"
_MODEL_PATTERN = re.compile(r"iter_(\d+)\.safetensors$")


def model_path(run_dir: Path, iteration: int) -> Path:
    """Where the networks of ``iteration`` are saved."""
    return Path(run_dir) / CHECKPOINT_DIR / f"iter_{iteration:06d}.safetensors"


def save_model(
    path: Path, net: torch.nn.Module, config: dict[str, Any], iteration: int, env_steps: int
) -> Path:
    """Networks as safetensors, with the config and progress as JSON metadata."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    metadata = {"config": json.dumps(config), "iteration": str(iteration), "env_steps": str(env_steps)}
    metadata[_DIGEST_KEY] = _model_digest(tensors, metadata)
    data = save(tensors, metadata=metadata)  # bytes: a full disk then raises OSError, not a SafetensorError
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))


def load_model(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], int, int]:
    """Weights, config dict, iteration and env steps of a model checkpoint.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable matrl model checkpoint (corrupt, truncated, wrong kind).
    """
    config, iteration, env_steps = model_info(path)
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
    except (SafetensorError, ValueError, OSError) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a matrl model checkpoint ({err})") from None
    stored = metadata.pop(_DIGEST_KEY, None)
    if stored is not None:
        _verify(path, stored, _model_digest(tensors, metadata))
    return tensors, config, iteration, env_steps


def model_info(path: Path) -> tuple[dict[str, Any], int, int]:
    """Config dict, iteration and env steps of a model checkpoint, from its header alone (no weights read);
    raises like `load_model`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        config = json.loads(metadata["config"])
        iteration, env_steps = int(metadata["iteration"]), int(metadata["env_steps"])
    except (SafetensorError, KeyError, ValueError, OSError) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a matrl model checkpoint ({err})") from None
    return config, iteration, env_steps


def list_models(run_dir: Path) -> list[tuple[int, Path]]:
    """(iteration, path) of every model checkpoint of a run, oldest first."""
    found = []
    for path in (Path(run_dir) / CHECKPOINT_DIR).glob("iter_*.safetensors"):
        match = _MODEL_PATTERN.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def save_state(run_dir: Path, state: dict[str, Any]) -> Path:
    """The full training state (tensors, numpy arrays and plain values) for ``--resume``."""
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    payload = _to_torch(state)
    wrapped = {_DIGEST_KEY: content_digest(payload), "state": payload}
    return write_atomically(path, lambda tmp: _torch_save(wrapped, tmp))


class _Sink:
    """A file for ``torch.save`` that keeps the OSError of a failed write (torch replaces it with a
    RuntimeError saying "unexpected pos"), so that a full disk reads as one."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            self.file.write(data)
        except OSError as err:
            self.error = err
            raise
        return len(data)

    def flush(self) -> None:
        self.file.flush()


def _torch_save(value: Any, path: Path) -> None:
    with open(path, "wb") as file:
        sink = _Sink(file)
        try:
            torch.save(value, cast(IO[bytes], sink))
        except RuntimeError:
            if sink.error is not None:
                raise sink.error from None
            raise


def load_state(run_dir: Path) -> dict[str, Any]:
    """Inverse of `save_state` (numpy arrays come back as numpy arrays); never runs pickled code."""
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: no training state at {path}")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")  # a GPU run resumes anywhere
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise ValueError(f"checkpoint {path} is corrupt or not a matrl training state ({err})") from None
    if isinstance(state, dict) and _DIGEST_KEY in state and "state" in state:
        _verify(path, state[_DIGEST_KEY], _state_digest(path, state["state"]))
        state = state["state"]
    if not isinstance(state, dict) or "algorithm" not in state:
        raise ValueError(f"checkpoint {path} is not a matrl training state (no 'algorithm' entry)")
    restored: dict[str, Any] = _from_torch(state)
    return restored


def state_iteration(run_dir: Path) -> int | None:
    """The iteration of a run's training state (None: there is none); raises like `load_state`."""
    if not (Path(run_dir) / CHECKPOINT_DIR / STATE_FILE).is_file():
        return None
    return int(load_state(run_dir)["algorithm"]["iteration"])


_DIGEST_KEY = "sha256"


def content_digest(value: Any) -> str:
    """SHA-256 (hex) of a nested value of tensors, strings, numbers, None, lists, tuples and dicts.

    Each item is hashed with its type, and each tensor with its dtype and shape, so that values that would
    load differently never share a digest; dict order counts (state dicts keep theirs through save and load).
    """
    digest = hashlib.sha256()
    _hash_into(digest, value)
    return digest.hexdigest()


def _hash_into(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{flat.dtype}{tuple(value.shape)}:".encode())
        digest.update(flat.view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}:".encode())
        for key, item in value.items():
            _hash_into(digest, key)
            _hash_into(digest, item)
    elif isinstance(value, list | tuple):
        digest.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}:".encode())
        for item in value:
            _hash_into(digest, item)
    elif isinstance(value, str):
        encoded = value.encode("utf-8")
        digest.update(f"S{len(encoded)}:".encode())
        digest.update(encoded)
    elif value is None or isinstance(value, bool | int):
        digest.update(f"{type(value).__name__}:{value};".encode())
    elif isinstance(value, float):
        digest.update(f"F{value.hex()};".encode())
    else:
        raise TypeError(f"cannot checksum a {type(value).__name__} in a checkpoint")


def _model_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """Digest of a model file's tensors and metadata, by name (safetensors keeps neither order)."""
    return content_digest(
        {"tensors": dict(sorted(tensors.items())), "metadata": dict(sorted(metadata.items()))}
    )


def _state_digest(path: Path, payload: Any) -> str:
    try:
        return content_digest(payload)
    except TypeError as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a matrl training state ({err})") from None


def _verify(path: Path, stored: object, actual: str) -> None:
    if actual != stored:
        raise ValueError(
            f"checkpoint {path} fails its SHA-256 check (stored {str(stored)[:12]}..., content "
            f"{actual[:12]}...): it changed after it was written (a disk or copy error); restore a copy"
        )


_NUMPY_TAG = "__numpy__"


def _to_torch(value: Any) -> Any:
    """numpy arrays -> tagged tensors (weights_only loading accepts tensors, not numpy objects)."""
    if isinstance(value, np.ndarray):
        return {_NUMPY_TAG: torch.from_numpy(np.ascontiguousarray(value).copy()), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_torch(v) for v in value)
    return value


def _from_torch(value: Any) -> Any:
    if isinstance(value, dict):
        if _NUMPY_TAG in value:
            return value[_NUMPY_TAG].numpy().astype(value["dtype"], copy=False)
        return {k: _from_torch(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_from_torch(v) for v in value)
    return value
