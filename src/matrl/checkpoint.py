"""Checkpoints that never execute code when loaded, written atomically.

Two kinds, both under ``run_dir/checkpoints``:
- ``iter_NNNNNN.safetensors``: the agents' networks (policy and value weights) with the run's config in the
  metadata; what `matrl evaluate` and cross-play read. Kept for every checkpointed iteration.
- ``state.pt``: the whole training state of the latest checkpoint (networks, optimisers, random generators,
  environment state) for ``--resume``; read with ``torch.load(weights_only=True)``, which refuses anything but
  tensors and plain containers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

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
    return write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_model(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], int, int]:
    """Weights, config dict, iteration and env steps of a model checkpoint.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable matrl model checkpoint (corrupt, truncated, wrong kind).
    """
    config, iteration, env_steps = model_info(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, ValueError, OSError) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a matrl model checkpoint ({err})") from None
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
    return write_atomically(path, lambda tmp: torch.save(payload, tmp))


def load_state(run_dir: Path) -> dict[str, Any]:
    """Inverse of `save_state` (numpy arrays come back as numpy arrays); never runs pickled code."""
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: no training state at {path}")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")  # a GPU run resumes anywhere
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise ValueError(f"checkpoint {path} is corrupt or not a matrl training state ({err})") from None
    if not isinstance(state, dict) or "algorithm" not in state:
        raise ValueError(f"checkpoint {path} is not a matrl training state (no 'algorithm' entry)")
    restored: dict[str, Any] = _from_torch(state)
    return restored


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
