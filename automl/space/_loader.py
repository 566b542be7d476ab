"""YAML -> validated SearchSpace, with one-line errors that name the file, the key and what is
allowed. Files are read with yaml.safe_load's safe constructors only (``safe_load_unique``).

A value in the YAML is *fixed* when scalar, *searched* when a list, and a numeric grid when a
mapping ``{min, max, step}``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.errors import allowed
from automl.errors import did_you_mean
from automl.errors import not_utf8
from automl.errors import short
from automl.space._space import RewardSetting
from automl.space._space import SearchSpace
from automl.space._space import TaskSetting
from automl.space._space import same_in_a_table
from automl.space.params import Param

notes = logging.getLogger("automl.space")
"""Advice on a valid space (``note: ...`` on the command line), once per file and message."""
_noted: set[tuple[str, str]] = set()

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
"""A space's ``name``: the stem of its run folders' names (``NAME-YYYYmmdd-HHMMSS``)."""
TOP_KEYS = ("name", "description", "task", "reward", "trials", "seed", "layers", "train",
            "decisions", "strategy", "plugins")
LAYER_KEYS = ("min", "max", "types", "pooling")
POOLINGS = ("avg", "max", "last", "attention")
"""Sequence-to-vector steps (``layers.pooling``): global average, global max, the last time step
(recurrent layers: their last state), attention pooling (softmax-weighted sum over time)."""
TRAIN_PARAMS: dict[str, Param] = {
    "optimizer": Param(str, choices=("adam", "adamw", "sgd", "rmsprop", "nadam"),
                       default="adam", doc="Keras optimizer"),
    "learning_rate": Param(float, min=1e-7, max=10.0, default=1e-3, doc="learning rate"),
    "batch_size": Param(int, min=1, max=1 << 16, default=32, doc="minibatch size"),
    "epochs": Param(int, min=1, max=100_000, default=10,
                    doc="training epochs (the most, when early stopping is on)"),
    "patience": Param(int, min=0, max=100_000, default=0,
                      doc="stop after this many epochs without a better validation 'monitor' "
                          "and restore the best epoch's weights; 0: off"),
    "monitor": Param(str, choices=("loss", "accuracy", "uar", "ccc", "mse"), default="loss",
                     doc="validation metric that picks the best epoch (ties: lower loss)"),
    "lr_schedule": Param(str, choices=("none", "plateau", "cosine"), default="none",
                         doc="learning-rate schedule: halve on a validation-loss plateau, or "
                             "cosine decay over 'epochs'"),
    "class_weight": Param(str, choices=("none", "balanced"), default="none",
                          doc="weight classes by inverse frequency in the training split"),
    "folds": Param(int, min=0, max=50, default=0,
                   doc="cross-validated children: k networks, each held out from one fold of "
                       "training + validation, scored on their out-of-fold predictions; 0: off; "
                       "auto: 5 when training + validation hold fewer than 100 examples or fewer "
                       "than 20 per class, else 0"),
}
FOLDS_AUTO = "auto"
"""``train.folds: auto``: the number of folds follows the task's size, settled when a search
loads its data (``training/cross_validation.py: auto_folds``)."""
FOLDS_ALLOWED = "0 (off), 2 to 50, or auto"
RECIPE_KEYS = ("patience", "monitor", "lr_schedule", "class_weight", "folds")
"""Training settings that enter an architecture only when the space names them, so the
architectures (and ids) of spaces written before them are unchanged."""
MAX_CHOICES = 10_000
RESERVED_DECISIONS = ("num_layers", "layers", "train", "task")


VALIDATION_METRICS = {"classification": ("accuracy", "uar", "loss"),
                      "regression": ("ccc", "mse", "loss")}
"""What a child of each output kind reports on validation (the trainer's metrics)."""
METRIC_REWARDS = ("accuracy", "uar", "ccc")
"""Built-in rewards that are one validation metric of the same name (the first one an output
kind reports is its default reward where a task's default is not reported)."""


def _check_metrics(source: str, output: str, reward: RewardSetting | None,
                   train: Mapping[str, tuple[Any, ...]]) -> None:
    """A reward or ``train.monitor`` naming a metric the task's children never report would
    fail every child; refuse it while the space is read."""
    reported = VALIDATION_METRICS[output]
    if reward is not None and reward.name in METRIC_REWARDS and reward.name not in reported:
        allowed_rewards = [r for r in METRIC_REWARDS if r in reported] + ["neg_val_loss"]
        raise SpaceError(f"{reward.name!r} is not reported by this {output} task; allowed: "
                         f"{allowed(allowed_rewards)}", source=source, key="reward")
    for monitor in train.get("monitor", ()):
        if monitor not in reported:
            raise SpaceError(f"{monitor!r} is not a validation metric of this {output} task; "
                             f"allowed: {allowed(reported)}", source=source, key="train.monitor")
    if output != "classification" and "balanced" in train.get("class_weight", ()):
        _note(source, f"{source}: train.class_weight balanced weighs classes, and this "
                      f"{output} task has none: its children train unweighted")


def _note(source: str, message: str) -> None:
    """Log ``message`` as advice once per file and message."""
    if (source, message) not in _noted:
        _noted.add((source, message))
        notes.warning(message)


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing a key written twice in one mapping (YAML keeps
    the last silently, so a second ``train:`` block would replace the first). Keys brought in
    by a merge (``<<: *defaults``) may be overridden, as YAML intends. Numbers in exponent form
    without a dot (``1e-4``, ``3e-05``) are floats, as in YAML 1.2 and JSON; PyYAML follows
    YAML 1.1, which reads them as text, so ``learning_rate: [1e-4, 1e-3]`` was refused as "not
    a number" and a table's ``1e-08`` was a text choice among numbers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicate key {key!r} (YAML would keep only the last)",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


UniqueKeyLoader.add_implicit_resolver(  # copies SafeLoader's resolvers; SafeLoader is unchanged
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),  # what YAML 1.1's float pattern misses
    list("-+0123456789"))


def safe_load_unique(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing a key written twice (:class:`UniqueKeyLoader`)."""
    loader = UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _check_folds(source: str, train: Mapping[str, tuple[Any, ...]]) -> None:
    """``train.folds`` decides how every child is scored: one value, 0 (off) or at least 2."""
    folds = train.get("folds", ())
    if len(folds) > 1:
        raise SpaceError(f"decides how every child is scored, so it takes one value, not a list "
                         f"({len(folds)} given); allowed: {FOLDS_ALLOWED}", source=source,
                         key="train.folds")
    if folds and folds[0] == 1:
        raise SpaceError(f"1 fold holds out nothing; allowed: {FOLDS_ALLOWED}",
                         source=source, key="train.folds")


def _note_patience(source: str, train: Mapping[str, tuple[Any, ...]]) -> None:
    """Patience of at least every epoch budget never stops a child early: legal (the best
    epoch's weights are still restored) but rarely meant, e.g. after lowering ``epochs``."""
    patience = [p for p in train.get("patience", ()) if p]
    if not patience or "epochs" not in train or min(patience) < max(train["epochs"]):
        return
    _note(source, f"{source}: train.patience {min(patience)} >= train.epochs "
                  f"{max(train['epochs'])}: no child stops early (the best epoch's weights "
                  f"are still restored)")


def load_space(source: str | Path | Mapping[str, Any], *, load_plugins: bool = False
               ) -> SearchSpace:
    """Read and validate a search space from a YAML file (or an already-parsed mapping);
    ``load_plugins``: import the space's ``plugins:`` (:func:`parse_space`).

    Raises:
        SpaceError: with the file, the YAML key and what is allowed.
    """
    if isinstance(source, Mapping):
        return parse_space(source, source_name="<dict>", base_dir=Path.cwd(),
                           load_plugins=load_plugins)
    path = Path(source)
    name = str(source)
    if not path.exists():
        raise SpaceError("file not found", source=name)
    if not path.is_file():
        raise SpaceError("is not a file", source=name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpaceError("is not UTF-8 text", source=name, key=not_utf8(path)) from None
    except OSError as exc:
        raise SpaceError(f"cannot be read ({exc.__class__.__name__})", source=name) from None
    try:
        data = safe_load_unique(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}"
        elif getattr(exc, "position", None) is not None:  # reader errors: bad characters
            where = f"character {exc.position}"  # type: ignore[attr-defined]
        else:
            where = "top level"
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or "invalid YAML"
        raise SpaceError(f"YAML syntax error: {problem}", source=name, key=where) from None
    except RecursionError:
        raise SpaceError("YAML nesting too deep", source=name) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise SpaceError(f"a value cannot be read: {short(str(exc))}", source=name) from None
    if data is None:
        raise SpaceError("the file is empty; expected a mapping with 'layers' and 'task'",
                         source=name, key="top level")
    return parse_space(data, source_name=name, base_dir=path.resolve().parent,
                       load_plugins=load_plugins)


def parse_space(data: Any, *, source_name: str, base_dir: Path,
                load_plugins: bool = False) -> SearchSpace:
    """Validate a parsed YAML document into a SearchSpace.

    The space's ``plugins:`` are imported only with ``load_plugins`` (``search`` and ``resume``
    pass it): parsing a file someone sent you runs none of its code. Without them, a name only
    they provide is an error that says so.
    """
    try:
        return _parse_space(data, source_name=source_name, base_dir=base_dir,
                            load_plugins=load_plugins)
    except UserInputError as exc:
        # only a name no loaded code registers can be a plugin's: other errors keep their line
        unknown_name = exc.message.startswith(("unknown layer", "unknown task",
                                               "unknown reward", "unknown strategy"))
        unloaded = [] if load_plugins or not unknown_name else _unloaded_plugins(data, base_dir)
        if not unloaded:
            raise
        raise type(exc)(f"{exc.message} (this command does not run the space's plugins: "
                        f"{', '.join(unloaded)}; name them with --plugins to load them)",
                        source=exc.source, key=exc.key) from None


def _unloaded_plugins(data: Any, base_dir: Path) -> list[str]:
    """The space's ``plugins:`` entries that this process has not loaded."""
    from automl.registry.discovery import path_plugins

    listed = data.get("plugins") if isinstance(data, Mapping) else None
    if not isinstance(listed, list):
        return []
    loaded = [Path(path) for path in path_plugins()]  # files, also those of a folder plugin

    def is_loaded(item: str) -> bool:
        target = (base_dir / item).resolve()
        return any(path == target or path.is_relative_to(target) for path in loaded)

    return [str(item) for item in listed
            if isinstance(item, str) and item.strip() and not is_loaded(item)]


def _parse_space(data: Any, *, source_name: str, base_dir: Path,
                 load_plugins: bool) -> SearchSpace:
    from automl.registry import REWARDS
    from automl.registry import STRATEGIES
    from automl.registry import TASKS
    from automl.registry import ensure_builtins

    ensure_builtins()
    v = _Validator(source_name)
    top = v.mapping(data, "", TOP_KEYS)
    if "name" in top:
        name = v.scalar(top["name"], "name", str)
        if not _SAFE_NAME.match(name) or ".." in name:
            raise SpaceError(f"{name!r} cannot name runs: use letters, digits, '.', '_' and "
                             "'-' (at most 80, starting with a letter or digit, no '..')",
                             source=source_name, key="name")
    else:  # the file's stem, made safe to name run folders
        name = re.sub(r"\.\.+", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", Path(source_name).stem))
        name = name.strip("._-")[:80] or "space"
    if "description" in top:
        v.scalar(top["description"], "description", str)
    trials = v.scalar(top.get("trials", 20), "trials", int, minimum=1)
    seed = v.scalar(top["seed"], "seed", int, minimum=0) if "seed" in top else None

    # plugins first: they may define the layer types, tasks and rewards named below
    from automl.registry.discovery import discover
    from automl.registry.discovery import load_plugin_paths

    discover()  # once per process: built-ins and installed plugins (entry points)
    plugins: list[str] = []
    if "plugins" in top:
        raw_plugins = top["plugins"]
        if not isinstance(raw_plugins, list):
            raise SpaceError("expected a list of plugin paths", source=source_name, key="plugins")
        for i, item in enumerate(raw_plugins):
            text = v.scalar(item, f"plugins[{i}]", str)
            if not text.strip():  # it would name the space's folder, and every .py in it
                raise SpaceError("an empty path names no plugin; allowed: a plugin file (.py), "
                                 "a package folder or a folder of plugins", source=source_name,
                                 key=f"plugins[{i}]")
            plugins.append(str((base_dir / text).resolve()))
        if load_plugins:
            load_plugin_paths(plugins, strict=True)

    # layers
    min_layers = max_layers = 0
    layer_types: dict[str, dict[str, tuple[Any, ...]]] = {}
    pooling: tuple[Any, ...] = ()
    if "layers" in top:
        layers = v.mapping(top["layers"], "layers", LAYER_KEYS, required=("types",))
        min_layers = v.scalar(layers.get("min", 1), "layers.min", int, minimum=1, maximum=64)
        max_layers = v.scalar(layers.get("max", min_layers), "layers.max", int, minimum=1,
                              maximum=64)
        if min_layers > max_layers:
            raise SpaceError(f"min ({min_layers}) is greater than max ({max_layers})",
                             source=source_name, key="layers.min")
        layer_types = _layer_types(v, layers["types"])
        if "pooling" in layers:
            pooling = v.values(layers["pooling"], "layers.pooling",
                               Param(str, choices=POOLINGS))

    # training settings
    train: dict[str, tuple[Any, ...]] = {}
    if "layers" in top or "train" in top:
        train_block = v.mapping(top.get("train", {}) or {}, "train", tuple(TRAIN_PARAMS))
        for key, param in TRAIN_PARAMS.items():
            if key in RECIPE_KEYS and key not in train_block:
                continue
            value = train_block[key] if key in train_block else param.default
            if key == "patience" and value is None:
                value = 0  # `patience: null` reads as off, like 0
            if key == "folds" and isinstance(value, str):
                if value != FOLDS_AUTO:
                    raise SpaceError(f"{short(value)} is not allowed"
                                     f"{did_you_mean(value, [FOLDS_AUTO])}; allowed: "
                                     f"{FOLDS_ALLOWED}", source=source_name, key="train.folds")
                train[key] = (FOLDS_AUTO,)  # a number once the data is loaded (engine/api.py)
                continue
            train[key] = v.values(value, f"train.{key}", param)
        _check_folds(source_name, train)
        _note_patience(source_name, train)

    # task
    task_setting: TaskSetting | None = None
    task_output: str | None = None
    if "task" in top:
        task_name, task, params = v.named_block(top["task"], "task", TASKS)
        fixed: dict[str, Any] = {}
        searched: dict[str, tuple[Any, ...]] = {}
        for key, param in task.params.items():
            if param.required and key not in params:
                wanted = (f"allowed: {allowed(param.choices)}" if param.choices
                          else param.doc or "required")
                raise SpaceError(f"missing key {key!r}; {wanted}", source=source_name,
                                 key=f"task.{key}")
            values = v.values(params.get(key, param.default), f"task.{key}", param,
                              allow_none=key not in params and param.default is None)
            if len(values) > 1 and key in getattr(task, "fixed_params", ()):
                raise SpaceError(f"chooses the data of the whole search, so it takes one "
                                 f"value, not a list ({len(values)} given)",
                                 source=source_name, key=f"task.{key}")
            if len(values) > 1:
                searched[key] = values
            else:
                fixed[key] = values[0]
        task_setting = TaskSetting(task_name, fixed, searched)
        task_output = (fixed.get("output") if "output" in task.params
                       else task.output if TASKS.entry(task_name).is_builtin else None)
    elif "layers" in top:
        raise SpaceError("missing key 'task' (a space with layers needs a task to train on); "
                         f"allowed: {allowed(TASKS.names())}", source=source_name, key="task")

    # reward
    reward_setting: RewardSetting | None = None
    if "reward" in top:
        reward_name, reward, given = v.named_block(top["reward"], "reward", REWARDS)
        reward_params = {key: v.scalar(value, f"reward.{key}", reward.params[key])
                         for key, value in given.items()}
        for key, param in reward.params.items():
            reward_params.setdefault(key, param.default)
        reward_setting = RewardSetting(reward_name, reward_params)
    if task_setting is not None and task_output in VALIDATION_METRICS:
        _check_metrics(source_name, task_output, reward_setting, train)

    # plain decisions
    decisions: dict[str, tuple[Any, ...]] = {}
    if "decisions" in top:
        block = v.mapping(top["decisions"], "decisions", None)
        for key, values in block.items():
            where = f"decisions.{key}"
            if not isinstance(key, str) or not key.isidentifier() or key in RESERVED_DECISIONS:
                raise SpaceError(f"decision names must be identifiers other than "
                                 f"{allowed(RESERVED_DECISIONS)}", source=source_name, key=where)
            if not isinstance(values, list):
                raise SpaceError("expected a list of choices", source=source_name, key=where)
            decisions[key] = v.values(values, where, None)
    if not layer_types and not decisions and not (task_setting and task_setting.searched):
        raise SpaceError("the space has nothing to search: add 'layers' (or 'decisions')",
                         source=source_name, key="layers")

    strategy: dict[str, Any] = {}
    if "strategy" in top:
        block = top["strategy"]
        if isinstance(block, str):
            block = {"name": block}
        strategy = dict(v.mapping(block, "strategy", None, required=("name",)))
        v.scalar(strategy["name"], "strategy.name", str)
        # a misspelt name would drop the block's settings where no strategy is built from it
        # (bench with --strategies, spaces validate): named here, like a layer or a task
        if strategy["name"] not in STRATEGIES:
            try:
                STRATEGIES.entry(strategy["name"])
            except UserInputError as exc:  # its message lists the names, with a did-you-mean
                raise SpaceError(exc.message, source=source_name, key="strategy.name") from None

    config = _resolved_config(name, top, trials, seed, min_layers, max_layers, layer_types,
                              pooling, train, task_setting, reward_setting, decisions, strategy,
                              plugins)
    return SearchSpace(
        name=name, source=source_name, task=task_setting, reward=reward_setting, trials=trials,
        min_layers=min_layers, max_layers=max_layers, layer_types=layer_types, train=train,
        decisions=decisions, strategy=strategy, plugins=tuple(plugins), config=config,
        base_dir=base_dir, seed=seed, pooling=tuple(pooling),
    )


def _layer_types(v: _Validator, block: Any) -> dict[str, dict[str, tuple[Any, ...]]]:
    from automl.registry import LAYERS

    if isinstance(block, list):
        block = {item: {} for item in block if isinstance(item, str)} if all(
            isinstance(item, str) for item in block) else block
    types = v.mapping(block, "layers.types", None)
    if not types:
        raise SpaceError(f"empty list of layer types; allowed: {allowed(LAYERS.names())}",
                         source=v.source, key="layers.types")
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for type_name, params in types.items():
        where = f"layers.types.{type_name}"
        layer = _lookup(LAYERS, str(type_name), v.source, where)
        params = v.mapping(params if params is not None else {}, where, tuple(layer.params))
        out[str(type_name)] = {
            key: v.values(params.get(key, param.default), f"{where}.{key}", param)
            for key, param in layer.params.items()
        }
    return out


def _lookup(registry: Any, name: str, source: str, key: str) -> Any:
    try:
        return registry.get(name, source=source, key=key)
    except UserInputError as exc:
        raise SpaceError(exc.message, source=source, key=key) from None


class _Validator:
    """Small helpers that raise SpaceError with the file and the dotted key."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str) -> SpaceError:
        return SpaceError(message, source=self.source, key=key or "top level")

    def mapping(self, data: Any, key: str, keys: tuple[str, ...] | None,
                required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(key, f"expected a mapping, got {_type_name(data)}")
        for name in data:
            if not isinstance(name, str):
                raise self.fail(key, f"key {short(name)} must be a string")
            if keys is not None and name not in keys:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key{did_you_mean(name, keys)}; "
                                       f"allowed: {allowed(keys)}")
        for name in required:
            if name not in data:
                raise self.fail(f"{key}.{name}" if key else name, "missing required key")
        return dict(data)

    def named_block(self, block: Any, key: str, registry: Any) -> tuple[str, Any, dict[str, Any]]:
        """``name`` or ``{name: ..., param: value}`` -> (name, registered object, params),
        refusing parameters the object does not declare."""
        if isinstance(block, str):
            block = {"name": block}
        block = self.mapping(block, key, None, required=("name",))
        name = self.scalar(block["name"], f"{key}.name", str)
        target = _lookup(registry, name, self.source, f"{key}.name")
        params = {k: val for k, val in block.items() if k != "name"}
        for param in params:
            if param not in target.params:
                raise self.fail(f"{key}.{param}", f"unknown parameter {param!r} of {key} "
                                f"{name!r}{did_you_mean(param, target.params)}; "
                                f"allowed: {allowed(target.params) or 'none'}")
        return name, target, params

    def scalar(self, value: Any, key: str, kind: type | Param, minimum: float | None = None,
               maximum: float | None = None) -> Any:
        param = kind if isinstance(kind, Param) else Param(kind, min=minimum, max=maximum)
        problem = param.check(value)
        if problem:
            raise self.fail(key, problem)
        return param.normalise(value)

    def values(self, spec: Any, key: str, param: Param | None,
               allow_none: bool = False) -> tuple[Any, ...]:
        """Turn a scalar, list or {min,max,step} grid into a validated tuple of choices."""
        if spec is None and allow_none:
            return (None,)
        if isinstance(spec, Mapping):
            spec = self._grid(spec, key, param)
        items = spec if isinstance(spec, list) else [spec]
        if not items:
            raise self.fail(key, "empty choice list; give at least one value")
        if len(items) > MAX_CHOICES:
            raise self.fail(key, f"too many choices ({len(items)} > {MAX_CHOICES})")
        out: list[Any] = []
        for i, item in enumerate(items):
            where = f"{key}[{i}]" if isinstance(spec, list) else key
            if param is None:
                if not isinstance(item, (str, int, float, bool)) or (
                        isinstance(item, float) and not math.isfinite(item)):
                    raise self.fail(where, f"{short(item)} is not a string, number or boolean")
                value = item
            else:
                problem = param.check(item)
                if problem:
                    raise self.fail(where, problem)
                value = param.normalise(item)
            if value == "" and len(items) > 1:  # a decision (a fixed "" is no table cell)
                raise self.fail(where, "an empty string cannot be a choice: a table writes a "
                                "decision that does not occur as an empty cell")
            twin = next((seen for seen in out if same_in_a_table(value, seen)), None)
            if twin is not None:
                problem = (f"duplicate choice {short(value)}" if type(twin) is type(value)
                           else f"choice {short(value)} cannot be told apart from "
                           f"{short(twin)} (the same value, or the same text in a table)")
                raise self.fail(where, problem)
            out.append(value)
        return tuple(out)

    def _grid(self, spec: Mapping[str, Any], key: str, param: Param | None) -> list[Any]:
        self.mapping(spec, key, ("min", "max", "step"), required=("min", "max", "step"))
        number = Param(float)
        for part in ("min", "max", "step"):
            problem = number.check(spec[part])
            if problem:
                raise self.fail(f"{key}.{part}", problem)
        low, high, step = spec["min"], spec["max"], spec["step"]
        if step <= 0:
            raise self.fail(f"{key}.step", "step must be positive")
        if low > high:
            raise self.fail(f"{key}.min", f"min ({low}) is greater than max ({high})")
        count = int(math.floor((high - low) / step + 1e-9)) + 1
        if count > MAX_CHOICES:
            raise self.fail(key, f"too many choices ({count} > {MAX_CHOICES})")
        as_int = all(isinstance(spec[p], int) and not isinstance(spec[p], bool)
                     for p in ("min", "max", "step"))
        return [low + i * step if as_int else round(low + i * step, 12) for i in range(count)]


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {list: "a list", str: "a string", int: "an integer", float: "a number",
            bool: "a boolean", dict: "a mapping"}.get(type(value), type(value).__name__)


def _resolved_config(name: str, top: Mapping[str, Any], trials: int, seed: int | None,
                     min_layers: int, max_layers: int,
                     layer_types: Mapping[str, Mapping[str, tuple[Any, ...]]],
                     pooling: tuple[Any, ...], train: Mapping[str, tuple[Any, ...]],
                     task: TaskSetting | None,
                     reward: RewardSetting | None, decisions: Mapping[str, tuple[Any, ...]],
                     strategy: Mapping[str, Any], plugins: list[str]) -> dict[str, Any]:
    def plain(values: tuple[Any, ...]) -> Any:
        return values[0] if len(values) == 1 else list(values)

    config: dict[str, Any] = {"name": name}
    if "description" in top:
        config["description"] = top["description"]
    if task is not None:
        config["task"] = {"name": task.name, **task.fixed,
                          **{k: list(v) for k, v in task.searched.items()}}
    if reward is not None:
        config["reward"] = {"name": reward.name, **reward.params}
    config["trials"] = trials
    if seed is not None:
        config["seed"] = seed
    if layer_types:
        config["layers"] = {"min": min_layers, "max": max_layers, "types": {
            t: {k: plain(v) for k, v in params.items()} for t, params in layer_types.items()}}
        if pooling:
            config["layers"]["pooling"] = plain(pooling)
    if train:
        config["train"] = {k: plain(v) for k, v in train.items()}
    if decisions:
        config["decisions"] = {k: list(v) for k, v in decisions.items()}
    if strategy:
        config["strategy"] = dict(strategy)
    if plugins:
        config["plugins"] = list(plugins)
    return config
