"""Two-player Atari Pong (PettingZoo ``pong_v3``) as a batched core, with the paper's or the standard frames.

PettingZoo's ``pong_v3`` is a thin layer over the multi-agent ALE (``multi_agent_ale_py``): it loads the
Pong ROM, selects game mode 4 (classic two-player Pong), maps the agents' actions through the minimal action
set and returns the full 210x160 RGB screen to both agents after every emulator frame. :class:`PongCore`
drives one multi-agent ALE per copy the same way (same settings, mode and action mapping;
tests/envs/test_pong.py checks frames, rewards and terminations against ``pong_v3`` step by step) but only
reads the screen on the frames it needs and downsizes all copies' frames at once with numpy.

Preprocessing (``preprocessing=``):

- ``"paper"``: what the original MATRL code did: every emulator frame is one step, the RGB screen is resized
  to 84x84 with area averaging (the original's ``cv2.resize(..., INTER_AREA)``; :func:`area_resize` equals it
  bit for bit), no frame skip, no stack. Observation (3, 84, 84).
- ``"atari"``: the usual DQN pipeline (Mnih et al. 2015, as in Gymnasium's ``AtariPreprocessing``): each step
  repeats the action for 4 frames, takes the pixel-wise maximum of the last two grayscale screens, resizes it
  to 84x84 with area averaging, and stacks the last 4 such frames (newest last). Observation (4, 84, 84).

Observations are uint8 (0..255), flattened to ``obs_dim = C*H*W`` per agent as the learners expect; networks
reshape them to ``obs_shape`` and divide by 255. The emulator is deterministic (``repeat_action_probability``
is 0, as in PettingZoo, and the multi-agent ALE's own RNG cannot be seeded reproducibly); ``seed`` only drives
the optional random no-op starts (``noop_max``).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, DTypeLike, NDArray

from matrl.envs.core import BatchedCore, GameStep, StepResult
from matrl.envs.parallel import OneCopyParallelEnv
from matrl.envs.spec import ActionSpec

#: Registry id (the PettingZoo env it reproduces).
ENV_ID = "pong_v3"
#: The agents, in PettingZoo's order: ``first_0`` is the right (green) paddle, ``second_0`` the left (orange).
AGENT_IDS: tuple[str, ...] = ("first_0", "second_0")
#: File name of the ROM in ale-py's ``roms`` folder.
ROM_FILE = "pong.bin"
#: Game mode of classic two-player Pong (PettingZoo's ``pong_v3`` default, ``game_version="classic"``).
CLASSIC_TWO_PLAYER_MODE = 4
#: Height and width of the Atari screen.
SCREEN_SHAPE = (210, 160)
#: Side of the square observation frames.
FRAME_SIZE = 84
#: RAM addresses (offsets from 0x80) of the scores of first_0 and second_0 (multi-agent ALE's PongSettings).
SCORE_RAM = (14, 13)
#: Bytes reserved per copy for the serialised emulator state in a snapshot. The multi-agent ALE's encoding has
#: a variable length (7689..7753 bytes seen for Pong: it holds the emulator RNG as text).
ALE_STATE_BYTES = 16384
#: ALE's 18 joystick actions, in ALE's numbering.
FULL_ACTION_NAMES: tuple[str, ...] = (
    "NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT", "UPFIRE",
    "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE",
)  # fmt: skip
#: Pong's minimal action set (ALE ids), the actions of ``pong_v3``. RIGHT moves a paddle up, LEFT down.
MINIMAL_ACTIONS: tuple[int, ...] = (0, 1, 3, 4, 11, 12)
_INSTALL = "pip install ale-py multi-agent-ale-py"
#: Largest emulator seed (ALE's ``random_seed`` is a C int).
_MAX_SEED = 2**31 - 1
#: Image planes (frames x channels) that :func:`area_resize` processes at once.
_PLANES_PER_CHUNK = 4


@dataclass(frozen=True)
class Pipeline:
    """Defaults of one ``preprocessing`` choice."""

    rgb: bool
    frame_skip: int
    frame_stack: int
    max_steps: int


#: ``preprocessing`` values. ``max_steps`` counts agent steps: 1000 is the original code's episode limit
#: (1000 frames); 27000 steps of 4 frames are the 108000 frames (30 minutes) of Machado et al. (2018).
PIPELINES: dict[str, Pipeline] = {
    "paper": Pipeline(rgb=True, frame_skip=1, frame_stack=1, max_steps=1000),
    "atari": Pipeline(rgb=False, frame_skip=4, frame_stack=4, max_steps=27_000),
}


def find_pong_rom() -> Path:
    """The folder holding ale-py's Pong ROM (PettingZoo's ``auto_rom_install_path``); one-line ImportError
    naming what to install if ale-py, multi-agent-ale-py or the ROM file is missing."""
    try:
        ale_py = importlib.import_module("ale_py")
    except ImportError:
        raise ImportError(f"two-player Pong needs ale-py (it ships the Pong ROM): {_INSTALL}") from None
    try:
        importlib.import_module("multi_agent_ale_py")
    except ImportError:
        raise ImportError(f"two-player Pong needs multi-agent-ale-py (the emulator): {_INSTALL}") from None
    roms = Path(str(ale_py.__file__)).parent / "roms"
    if not (roms / ROM_FILE).is_file():
        raise ImportError(
            f"ale-py has no Pong ROM at {roms / ROM_FILE}; reinstall it: pip install --force-reinstall ale-py"
        )
    return roms


def make_reference_env(**kwargs: Any) -> Any:
    """PettingZoo's own ``pong_v3.parallel_env`` with ale-py's ROM (the reference :class:`PongCore` follows).

    Importing ``pettingzoo.atari`` warns that its modules are deprecated in favour of a registry; that one
    DeprecationWarning is silenced here.
    """
    rom = find_pong_rom()
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The old environment creation API", category=DeprecationWarning
        )
        from pettingzoo.atari import pong_v3
    return pong_v3.parallel_env(auto_rom_install_path=str(rom), **kwargs)


# ---------------------------------------------------------------------------------------------- resizing
@lru_cache(maxsize=8)
def _area_taps(n_in: int, n_out: int) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Source indices and weights (n_out, taps) of area averaging from n_in to n_out samples (n_out <= n_in).

    Output sample i covers [i*s, (i+1)*s) of the input with s = n_in/n_out; each input sample it touches gets
    its overlap / s. Overlaps below 1e-3 are dropped and the weights are float32, as in OpenCV's INTER_AREA;
    unused taps point at sample 0 with weight 0.
    """
    scale = n_in / n_out
    taps = int(np.ceil(scale)) + 1
    index = np.zeros((n_out, taps), dtype=np.intp)
    weight = np.zeros((n_out, taps), dtype=np.float64)
    for i in range(n_out):
        lo, hi = i * scale, (i + 1) * scale
        j, t = int(np.floor(lo)), 0
        while j < min(hi, n_in):
            overlap = min(hi, j + 1) - max(lo, j)
            if overlap > 1e-3:
                index[i, t], weight[i, t] = j, overlap / scale
                t += 1
            j += 1
    return index, weight.astype(np.float32)


def area_resize(frames: NDArray[np.uint8], size: int = FRAME_SIZE) -> NDArray[np.uint8]:
    """Resize a batch of images (N, H, W, C) uint8 to (N, size, size, C) by area averaging.

    Columns first, then rows, accumulated in float32 in the order of the source pixels and rounded half to
    even: this is OpenCV's ``cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)`` bit for bit on
    Atari-sized frames (checked against opencv-python-headless 4.14 on Pong screens and random images).
    """
    x = np.asarray(frames)
    if x.ndim != 4 or x.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 of shape (N, H, W, C), got {x.dtype} of shape {x.shape}")
    n, h, w, c = x.shape
    if h < size or w < size:
        raise ValueError(f"area_resize only shrinks; frames of {h}x{w} are smaller than {size}x{size}")
    col_index, col_weight = _channel_taps(w, size, c)
    row_index, row_weight = _area_taps(h, size)
    out = np.empty((n, size, size, c), dtype=np.uint8)
    # A few planes at a time keep the float32 temporaries in cache (about 1.5x faster for 8 RGB frames).
    chunk = max(1, _PLANES_PER_CHUNK // c)
    for start in range(0, n, chunk):
        part = x[start : start + chunk]
        m = len(part)
        # Columns: the channels stay interleaved, so (H, W, C) is gathered as rows of W*C values.
        flat = part.reshape(m, h, w * c)
        cols = np.zeros((m, h, size * c), dtype=np.float32)
        term = np.empty_like(cols)
        for t in range(col_index.shape[0]):
            np.multiply(np.take(flat, col_index[t], axis=2), col_weight[t], out=term)
            cols += term
        rows = np.zeros((m, size, size * c), dtype=np.float32)
        term = np.empty_like(rows)
        for t in range(row_index.shape[1]):
            np.multiply(np.take(cols, row_index[:, t], axis=1), row_weight[:, t, None], out=term)
            rows += term
        out[start : start + m] = np.rint(rows, out=rows).reshape(m, size, size, c)
    return out


@lru_cache(maxsize=8)
def _channel_taps(n_in: int, n_out: int, channels: int) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """:func:`_area_taps` for columns of interleaved channels: (taps, n_out*channels) indices into rows of
    n_in*channels values, and their weights."""
    index, weight = _area_taps(n_in, n_out)
    lanes = np.arange(channels)
    flat_index = (index.T[:, :, None] * channels + lanes).reshape(index.shape[1], -1)
    flat_weight = np.repeat(weight.T, channels, axis=1)
    return np.ascontiguousarray(flat_index), np.ascontiguousarray(flat_weight)


# ---------------------------------------------------------------------------------------------- the core
class PongCore(BatchedCore):
    """E copies of two-player Atari Pong stepped with numpy arrays (a :class:`BatchedCore`).

    Agents ``first_0`` (right paddle) and ``second_0`` (left paddle). Rewards come from the emulator as in
    ``pong_v3``: +1 to the scorer and -1 to the other for each point, and -1 to a player who has not served
    within 2 seconds (120 frames) of getting the ball (multi-agent ALE's serve timer), so the game is zero-sum
    except for those penalties. ``info["score"]`` (E, 2) holds the points on the scoreboard and
    ``info["frame"]`` (E,) the emulator frames of the episode.

    Actions are (E, 2) ints: the 6 minimal actions (``pong_v3``'s) by default, ALE's 18 with
    ``full_action_space=True`` (the original code's; each of the 6 appears 3 times). Episodes end when a
    player reaches 21 points (terminated) or after ``max_steps`` steps (truncated; default per pipeline, see
    :data:`PIPELINES`). Observations (E, 2, obs_dim) uint8 are the ``obs_shape`` (C, 84, 84) frames flattened;
    both agents see the same screen unless ``mirror=True``, which flips ``second_0``'s frames left-right so
    that each agent sees its own paddle on the right (the paddle colours still differ).

    Copy k's random no-op starts (``noop_max`` > 0: 1..noop_max NOOP frames after each reset) are drawn from
    a generator seeded with (seed + k, episode number), so they depend only on the seed and the episode.
    ``reset(seed)`` gives copy k ``seed + k`` and restarts its episode count; later seedless resets continue
    each copy's episode count. The seed only matters for the no-op starts: the emulator is deterministic (its
    unused RNG keeps the constructor's seed).
    """

    env_id: str = ENV_ID
    _computed_state_keys = ("ale", "ale_size")

    def __init__(
        self,
        num_envs: int,
        *,
        preprocessing: Literal["paper", "atari"] = "paper",
        full_action_space: bool = False,
        mirror: bool = False,
        max_steps: int | None = None,
        frame_skip: int | None = None,
        frame_stack: int | None = None,
        noop_max: int = 0,
        seed: int = 0,
        autoreset: bool = True,
        reward_dtype: DTypeLike = np.float32,
    ) -> None:
        if preprocessing not in PIPELINES:
            raise ValueError(
                f"unknown preprocessing {preprocessing!r}; allowed: {', '.join(map(repr, PIPELINES))}"
            )
        pipe = PIPELINES[preprocessing]
        limit = pipe.max_steps if max_steps is None else int(max_steps)
        super().__init__(num_envs, max_steps=limit, autoreset=autoreset, reward_dtype=reward_dtype)
        self.frame_skip = pipe.frame_skip if frame_skip is None else int(frame_skip)
        self.frame_stack = pipe.frame_stack if frame_stack is None else int(frame_stack)
        if self.frame_skip < 1:
            raise ValueError(f"frame_skip must be >= 1, got {self.frame_skip}")
        if self.frame_stack < 1:
            raise ValueError(f"frame_stack must be >= 1, got {self.frame_stack}")
        if int(noop_max) < 0:
            raise ValueError(f"noop_max must be >= 0, got {noop_max}")
        if not 0 <= int(seed) <= _MAX_SEED - int(num_envs):
            raise ValueError(
                f"seed must be in 0..{_MAX_SEED - int(num_envs)} (seed + k is an int32), got {seed}"
            )
        self.preprocessing = preprocessing
        self.rgb = pipe.rgb
        self.seed, self.noop_max = int(seed), int(noop_max)
        self.full_action_space = bool(full_action_space)
        self.mirror = bool(mirror)
        self.agent_ids: tuple[str, ...] = AGENT_IDS
        self.n_agents = len(AGENT_IDS)

        ids = tuple(range(18)) if self.full_action_space else MINIMAL_ACTIONS
        self._ale_actions = np.asarray(ids, dtype=np.intc)
        self.n_actions = len(ids)
        self.action_spec = ActionSpec.discrete(self.n_actions)
        #: ALE's name of each action id (how error messages describe the valid actions).
        self.action_names: tuple[str, ...] = tuple(FULL_ACTION_NAMES[a] for a in ids)
        self.allowed_actions = ", ".join(f"{i}={name}" for i, name in enumerate(self.action_names))

        channels = 3 if self.rgb else 1
        #: Channels of one frame (3 for RGB, 1 for grayscale).
        self.frame_channels = channels
        #: Shape of one agent's observation: (C, H, W) with C = frame_stack * frame_channels, newest last.
        self.obs_shape: tuple[int, int, int] = (channels * self.frame_stack, FRAME_SIZE, FRAME_SIZE)
        self.obs_dim = int(np.prod(self.obs_shape))
        #: Observations are raw pixel values; divide by 255 in the network.
        self.obs_dtype: np.dtype[Any] = np.dtype(np.uint8)
        self.obs_low, self.obs_high = 0, 255

        rom = find_pong_rom() / ROM_FILE
        self._ales = [self._new_ale(rom, self.seed + k) for k in range(self.num_envs)]
        self._allocate_envelope()
        e, a = self.num_envs, self.n_agents
        # The last two raw screens of every copy (slot 1 the newest); their maximum is the pooled frame.
        self._raw = np.zeros((e, 2, *SCREEN_SHAPE, channels), dtype=np.uint8)
        self._frames = np.zeros((e, *self.obs_shape), dtype=np.uint8)
        self._ram = np.zeros(128, dtype=np.uint8)
        self._noop = np.zeros(a, dtype=np.intc)
        self._seeds = np.zeros(e, dtype=np.int64)
        self._episodes = np.zeros(e, dtype=np.int64)

    def _new_ale(self, rom: Path, seed: int) -> Any:
        """One multi-agent ALE set up like PettingZoo's ``ParallelAtariEnv`` for ``pong_v3``.

        The emulator's RNG is never used with ``repeat_action_probability`` 0, but it is part of the saved
        state, so it is seeded (before the ROM is loaded, as PettingZoo does) to make snapshots reproducible.
        """
        import multi_agent_ale_py

        multi_agent_ale_py.ALEInterface.setLoggerMode("error")
        ale = multi_agent_ale_py.ALEInterface()
        ale.setFloat(b"repeat_action_probability", 0.0)
        ale.setInt(b"random_seed", seed)
        ale.loadROM(str(rom))
        ale.setMode(CLASSIC_TWO_PLAYER_MODE)
        if ale.numPlayersActive() != len(AGENT_IDS):
            raise RuntimeError(
                f"Pong mode {CLASSIC_TWO_PLAYER_MODE} has {ale.numPlayersActive()} players, not 2"
            )
        return ale

    # ------------------------------------------------------------------ BatchedCore hooks
    def _step_copies(self, actions: NDArray[np.intp]) -> GameStep:
        """``frame_skip`` emulator frames of every copy with the joint action (E, 2)."""
        joint = np.ascontiguousarray(self._ale_actions[actions])  # rows handed to the emulator: contiguous
        e, n, skip = self.num_envs, self.n_agents, self.frame_skip
        raw_rewards = np.zeros((e, n), dtype=np.int64)
        game_over = np.zeros(e, dtype=np.bool_)
        for k, ale in enumerate(self._ales):
            move = joint[k]
            for f in range(skip):
                raw_rewards[k] += ale.act(move)
                if f >= skip - 2:
                    self._grab(k, f - skip + 2)
                if ale.game_over():
                    game_over[k] = True
                    if f < skip - 1:  # ended early: the pooled frame is the last screen
                        self._grab(k, 1)
                        self._raw[k, 0] = self._raw[k, 1]
                    break
        self._push(self._rows, pool=skip > 1)
        return GameStep.team(raw_rewards, game_over, self._info())

    def _check_open(self) -> None:
        if len(self._ales) != self.num_envs:
            raise ValueError("the core is closed; build a new one")

    def frames(self, obs: ArrayLike) -> NDArray[np.uint8]:
        """Observations (..., obs_dim) as images (..., C, H, W) (a view where possible)."""
        return np.asarray(obs).reshape(*np.shape(obs)[:-1], *self.obs_shape)

    def render_rgb(self, env_index: int = 0) -> NDArray[np.uint8]:
        """The full-resolution (210, 160, 3) RGB screen of copy ``env_index`` (the emulator's last frame;
        right after ``load_state_dict`` it is the frame the emulator drew last, not the restored one)."""
        return np.asarray(self._ales[self._check_env_index(env_index)].getScreenRGB())

    def _state_layout(self) -> dict[str, NDArray[Any]]:
        """Per copy: the emulator's full system state (multi-agent ALE ``cloneSystemState``, serialised with
        ``encodeState``: console, cartridge RAM, the serve timer and scores, frame counters, RNG) and its
        length, the frame stack, the episode counters, whether the copy was ever reset, the no-op seed and
        episode number."""
        return {
            "ale": np.zeros((self.num_envs, ALE_STATE_BYTES), dtype=np.uint8),
            "ale_size": np.zeros(self.num_envs, dtype=np.int64),
            "frames": self._frames,
            **self._envelope_state(),
            "seeds": self._seeds,
            "episodes": self._episodes,
        }

    def _save_game_state(self, state: dict[str, NDArray[Any]]) -> None:
        for k in range(self.num_envs):
            data = self._encode(k)
            state["ale"][k, : len(data)] = data
            state["ale_size"][k] = len(data)

    def _load_game_state(self, values: Mapping[str, NDArray[Any]]) -> None:
        sizes = values["ale_size"]
        if sizes.min() < 1 or sizes.max() > ALE_STATE_BYTES:
            k = int(np.argmax((sizes < 1) | (sizes > ALE_STATE_BYTES)))
            raise ValueError(
                f"state key 'ale_size' of env copy {k} is {sizes[k]}; allowed 1..{ALE_STATE_BYTES}"
            )
        for k, ale in enumerate(self._ales):
            handle = ale.decodeState(np.ascontiguousarray(values["ale"][k, : sizes[k]]))
            try:
                ale.restoreSystemState(handle)
            finally:
                ale.deleteState(handle)

    def close(self) -> None:
        """Release the emulators (the core cannot step afterwards)."""
        self._ales = []

    # ------------------------------------------------------------------ helpers
    def _grab(self, k: int, slot: int) -> None:
        """Copy the current screen of copy k into raw slot ``slot`` (1 = newest)."""
        if self.rgb:
            self._ales[k].getScreenRGB(self._raw[k, slot])
        else:
            self._ales[k].getScreenGrayscale(self._raw[k, slot])

    def _push(self, rows: NDArray[np.intp], *, pool: bool, fill: bool = False) -> None:
        """Resize the newest screens of ``rows`` and push them onto their frame stacks (``fill``: the whole
        stack, after a reset)."""
        raw = np.maximum(self._raw[rows, 0], self._raw[rows, 1]) if pool else self._raw[rows, 1]
        frame = area_resize(raw).transpose(0, 3, 1, 2)  # (len(rows), c, 84, 84)
        c = self.frame_channels
        if fill:
            self._frames[rows] = np.tile(frame, (1, self.frame_stack, 1, 1))
        else:
            stack = self._frames[rows]
            stack[:, :-c] = stack[:, c:]
            stack[:, -c:] = frame
            self._frames[rows] = stack

    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        """Start a new game in the copies ``rows`` (with their no-op starts) and fill their frame stacks;
        a ``seed`` gives copy k the no-op seed ``seed + k`` and restarts its episode count."""
        if seed is not None:
            if int(seed) < 0:
                raise ValueError(f"seed must be >= 0, got {seed}")
            self._seeds[rows] = int(seed) + rows
            self._episodes[rows] = 0
        for k in rows.tolist():
            ale = self._ales[k]
            ale.reset_game()
            if self.noop_max > 0:
                rng = np.random.default_rng([int(self._seeds[k]), int(self._episodes[k])])
                for _ in range(int(rng.integers(1, self.noop_max + 1))):
                    ale.act(self._noop)
            self._episodes[k] += 1
            self._grab(k, 1)
        self._push(rows, pool=False, fill=True)

    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.uint8]:
        """Observations (len(rows), 2, obs_dim) of the copies ``rows`` (all by default)."""
        frames = self._frames if rows is None else self._frames[rows]
        obs = np.empty((len(frames), self.n_agents, *self.obs_shape), dtype=np.uint8)
        obs[:, 0] = frames
        obs[:, 1] = frames[..., ::-1] if self.mirror else frames
        return obs.reshape(len(frames), self.n_agents, self.obs_dim)

    def _info(self) -> dict[str, NDArray[Any]]:
        score = np.zeros((self.num_envs, self.n_agents), dtype=np.int64)
        frame = np.zeros(self.num_envs, dtype=np.int64)
        for k, ale in enumerate(self._ales):
            ram = ale.getRAM(self._ram)
            score[k] = ram[SCORE_RAM[0]], ram[SCORE_RAM[1]]
            frame[k] = ale.getEpisodeFrameNumber()
        return {"score": score, "frame": frame}

    def _encode(self, k: int) -> NDArray[np.uint8]:
        ale = self._ales[k]
        handle = ale.cloneSystemState()
        try:
            data = np.array(ale.encodeState(handle), dtype=np.uint8)
        finally:
            ale.deleteState(handle)
        if len(data) > ALE_STATE_BYTES:
            raise RuntimeError(f"emulator state of env copy {k} has {len(data)} > {ALE_STATE_BYTES} bytes")
        return data


# ------------------------------------------------------------------------------------------ PettingZoo view
class PongParallelEnv(OneCopyParallelEnv[PongCore, NDArray[np.uint8], int]):
    """PettingZoo parallel API over one copy of :class:`PongCore` (no auto-reset, float64 rewards).

    Observations are (C, 84, 84) uint8 images, actions ``Discrete(n)``. When the episode ends every agent
    leaves ``agents``. ``render_mode="rgb_array"`` renders the full-resolution screen. ``reset(seed)`` seeds
    the no-op starts and the action spaces' ``sample``.
    """

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}; allowed: None, 'rgb_array'")
        fixed = sorted(set(kwargs) & {"num_envs", "num_workers", "autoreset", "reward_dtype"})
        if fixed:
            raise ValueError(
                f"PongParallelEnv sets {fixed} itself (one copy, no auto-reset, float64 rewards)"
            )
        self.render_mode = render_mode
        self.core = PongCore(1, autoreset=False, reward_dtype=np.float64, **kwargs)
        self.metadata: dict[str, Any] = {
            "name": ENV_ID,
            "render_modes": ["rgb_array"],
            "is_parallelizable": True,
        }
        self.possible_agents: list[str] = list(self.core.agent_ids)
        self.agents: list[str] = []
        box = spaces.Box(0, 255, shape=self.core.obs_shape, dtype=np.uint8)
        self.observation_spaces = dict.fromkeys(self.possible_agents, box)
        self.action_spaces = {agent: spaces.Discrete(self.core.n_actions) for agent in self.possible_agents}

    def render(self) -> NDArray[np.uint8] | None:
        """The (210, 160, 3) screen with ``render_mode="rgb_array"``, else None."""
        return self.core.render_rgb(0) if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        self.core.close()

    def _joint_action(self, actions: dict[str, Any]) -> NDArray[np.int64]:
        if not isinstance(actions, dict) or set(actions) != set(self.agents):
            got = sorted(actions) if isinstance(actions, dict) else type(actions).__name__
            raise ValueError(f"actions must be a dict with exactly the agents {self.agents}, got {got}")
        return np.array([[int(actions[agent]) for agent in self.possible_agents]], dtype=np.int64)

    def _obs_dict(self, obs: NDArray[Any]) -> dict[str, NDArray[np.uint8]]:
        frames = self.core.frames(obs[0])
        return {agent: frames[i] for i, agent in enumerate(self.possible_agents)}

    def _step_infos(self, res: StepResult) -> dict[str, dict[str, Any]]:
        return {
            agent: {"score": int(res.info["score"][0, i]), "frame": int(res.info["frame"][0])}
            for i, agent in enumerate(self.agents)
        }
