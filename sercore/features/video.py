"""Per-frame video features: gray frames read from ``.npy`` arrays or video files, then 2048-d per frame.

:func:`frame_features` yields one ``(T, 2048)`` array per manifest row from the ``video`` column
(a ``.npy`` array ``(T, H, W)`` as the synthetic corpus stores it, or a video file, optionally
``path#t=start,end`` as the IEMOCAP / MSP-IMPROV manifests write it). The extractors
(:data:`EXTRACTORS`):

- ``resnet``: torchvision's ResNet-50 penultimate layer with user-supplied ImageNet weights;
- ``randproj``: a fixed, seeded random-feature map of the face pixels: per-frame standardised
  pixels times a Gaussian matrix, ReLU;
- ``gradproj``: the same map (another seed) of the frames' Sobel gradient magnitudes.

``randproj`` and ``gradproj`` are offline stand-ins, not trained networks: they keep the shape of
ImageNet features and need nothing downloaded.
"""
from __future__ import annotations

import numpy as np

from ..paths import show_progress

__all__ = ["FRAME_DIM", "EXTRACTORS", "read_frames", "sobel", "ResNetFrames", "frame_features"]

#: features per frame (ResNet-50's penultimate layer)
FRAME_DIM = 2048
#: extractor key -> what it computes
EXTRACTORS = {
    "resnet": "torchvision ResNet-50 penultimate layer (2048-d), user-supplied ImageNet weights",
    "randproj": "stand-in: fixed seeded random ReLU features of the standardised face pixels (2048-d)",
    "gradproj": "stand-in: fixed seeded random ReLU features of the Sobel gradient magnitudes (2048-d)",
}


def read_frames(path: str, fps: float = 10.0, size: int = 48) -> np.ndarray:
    """Gray frames ``(T, H, W)`` float32 in [0, 255]: a ``.npy`` array as stored, or a video file
    (optionally ``path#t=start,end``, the manifests' media fragment) decoded with PyAV
    (:func:`sercore.features.media.read_video_frames`) at ``fps`` frames/s between start and
    end, converted to gray and resized to ``size`` x ``size``. ``FileNotFoundError`` for a
    missing file; :class:`sercore.data.CorruptFileError` naming it when it cannot be decoded or
    has no video track."""
    from ..data._io import split_media_fragment
    from .media import read_video_frames

    base, start, end = split_media_fragment(str(path))
    if base.endswith(".npy"):
        return np.load(base).astype(np.float32)
    frames = read_video_frames(base, fps=fps, start=start, end=end, size=size, gray=True)
    return frames.astype(np.float32)


def sobel(frames: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of every frame of ``(T, H, W)`` (edges replicated), same shape."""
    f = np.pad(frames, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (f[:, 1:-1, 2:] - f[:, 1:-1, :-2]) * 2 + (f[:, :-2, 2:] - f[:, :-2, :-2]) + (f[:, 2:, 2:] - f[:, 2:, :-2])
    gy = (f[:, 2:, 1:-1] - f[:, :-2, 1:-1]) * 2 + (f[:, 2:, :-2] - f[:, :-2, :-2]) + (f[:, 2:, 2:] - f[:, :-2, 2:])
    return np.hypot(gx, gy)


class ResNetFrames:
    """torchvision ResNet-50 penultimate features of gray frames ``(T, H, W)`` -> ``(T, 2048)``."""

    def __init__(self, weights: str | None, device: str = "cpu"):
        import torch

        try:
            import torchvision
        except ImportError as e:
            raise ImportError("video='resnet' needs torchvision (pip install torchvision) and ImageNet "
                              "weights (video_weights=<resnet50 state_dict .pth>); offline, use "
                              "video='randproj'") from e
        if not weights:
            raise ValueError("video='resnet' needs video_weights=<path to an ImageNet ResNet-50 state_dict>")
        net = torchvision.models.resnet50()
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        net.fc = torch.nn.Identity()
        self.net, self.device = net.eval().to(device), device
        self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.as_tensor(frames, dtype=torch.float32)[:, None] / 255.0           # (T, 1, H, W)
            x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
            x = (x.repeat(1, 3, 1, 1) - self.mean) / self.std
            return torch.cat([self.net(b.to(self.device)).cpu() for b in x.split(64)]).numpy()


def frame_features(manifest, kind: str = "randproj", weights: str | None = None, *, seed: int = 0,
                   progress=None):
    """One ``(T, 2048)`` float32 array per row of ``manifest['video']``, yielded row by row (so a
    caller that pools each row never holds every frame). ``kind``: a key of :data:`EXTRACTORS`;
    ``weights``: the ResNet-50 state_dict for ``resnet``; ``seed`` fixes the random maps.
    The arguments are checked before the first row is read."""
    if kind not in EXTRACTORS:
        raise ValueError(f"video must be one of {sorted(EXTRACTORS)}, got {kind!r}")
    if "video" not in manifest or manifest["video"].isna().any():
        raise ValueError("video features need a 'video' column with a frames file for every row")
    resnet = ResNetFrames(weights) if kind == "resnet" else None
    return _frames(list(manifest["video"]), kind, resnet, seed, progress)


def _frames(paths: list, kind: str, resnet, seed: int, progress):
    from tqdm.auto import tqdm

    W = None
    for path in tqdm(paths, desc=f"video[{kind}]", disable=not show_progress(progress)):
        frames = read_frames(path)                                                     # (T, H, W)
        if frames.ndim != 3:
            raise ValueError(f"{path}: expected frames (T, H, W), got shape {frames.shape}")
        if resnet is not None:
            yield resnet(frames)
            continue
        x = sobel(frames / 255.0) if kind == "gradproj" else frames / 255.0
        x = x.reshape(len(x), -1)                                                      # (T, H*W)
        x = ((x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-5)).astype(np.float32)
        if W is None:
            W = np.random.default_rng(seed + (1 if kind == "gradproj" else 0)).standard_normal(
                (x.shape[1], FRAME_DIM)).astype(np.float32) / np.sqrt(x.shape[1])
        yield np.maximum(x @ W, 0.0)                                                   # (T, 2048)
