import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from landsim_wire.v1 import ndarray_pb2 as _ndarray_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Union(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNION_UNSPECIFIED: _ClassVar[Union]
    UNION_HARD: _ClassVar[Union]
    UNION_SOFT: _ClassVar[Union]

class FrameKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FRAME_KIND_UNSPECIFIED: _ClassVar[FrameKind]
    FRAME_KIND_AXIS: _ClassVar[FrameKind]
    FRAME_KIND_ROTATED: _ClassVar[FrameKind]

class Optimizer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPTIMIZER_UNSPECIFIED: _ClassVar[Optimizer]
    OPTIMIZER_GD: _ClassVar[Optimizer]
    OPTIMIZER_SGD: _ClassVar[Optimizer]
    OPTIMIZER_MOMENTUM: _ClassVar[Optimizer]
    OPTIMIZER_ADAM: _ClassVar[Optimizer]
UNION_UNSPECIFIED: Union
UNION_HARD: Union
UNION_SOFT: Union
FRAME_KIND_UNSPECIFIED: FrameKind
FRAME_KIND_AXIS: FrameKind
FRAME_KIND_ROTATED: FrameKind
OPTIMIZER_UNSPECIFIED: Optimizer
OPTIMIZER_GD: Optimizer
OPTIMIZER_SGD: Optimizer
OPTIMIZER_MOMENTUM: Optimizer
OPTIMIZER_ADAM: Optimizer

class Wedge(_message.Message):
    __slots__ = ("anchor", "short_axes", "short_frame", "eps0", "eps1")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    SHORT_AXES_FIELD_NUMBER: _ClassVar[int]
    SHORT_FRAME_FIELD_NUMBER: _ClassVar[int]
    EPS0_FIELD_NUMBER: _ClassVar[int]
    EPS1_FIELD_NUMBER: _ClassVar[int]
    anchor: _ndarray_pb2.NdArray
    short_axes: _ndarray_pb2.NdArray
    short_frame: _ndarray_pb2.NdArray
    eps0: float
    eps1: float
    def __init__(self, anchor: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., short_axes: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., short_frame: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., eps0: _Optional[float] = ..., eps1: _Optional[float] = ...) -> None: ...

class LandscapeSpec(_message.Message):
    __slots__ = ("dim", "wedges", "union", "tau")
    DIM_FIELD_NUMBER: _ClassVar[int]
    WEDGES_FIELD_NUMBER: _ClassVar[int]
    UNION_FIELD_NUMBER: _ClassVar[int]
    TAU_FIELD_NUMBER: _ClassVar[int]
    dim: int
    wedges: _containers.RepeatedCompositeFieldContainer[Wedge]
    union: Union
    tau: float
    def __init__(self, dim: _Optional[int] = ..., wedges: _Optional[_Iterable[_Union[Wedge, _Mapping]]] = ..., union: _Optional[_Union[Union, str]] = ..., tau: _Optional[float] = ...) -> None: ...

class RandomLandscapeParams(_message.Message):
    __slots__ = ("dim", "n_wedges", "n_short", "kind", "eps0", "eps1", "anchor_scale", "union", "tau", "seed")
    DIM_FIELD_NUMBER: _ClassVar[int]
    N_WEDGES_FIELD_NUMBER: _ClassVar[int]
    N_SHORT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EPS0_FIELD_NUMBER: _ClassVar[int]
    EPS1_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_SCALE_FIELD_NUMBER: _ClassVar[int]
    UNION_FIELD_NUMBER: _ClassVar[int]
    TAU_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    dim: int
    n_wedges: int
    n_short: _containers.RepeatedScalarFieldContainer[int]
    kind: FrameKind
    eps0: _containers.RepeatedScalarFieldContainer[float]
    eps1: _containers.RepeatedScalarFieldContainer[float]
    anchor_scale: float
    union: Union
    tau: float
    seed: int
    def __init__(self, dim: _Optional[int] = ..., n_wedges: _Optional[int] = ..., n_short: _Optional[_Iterable[int]] = ..., kind: _Optional[_Union[FrameKind, str]] = ..., eps0: _Optional[_Iterable[float]] = ..., eps1: _Optional[_Iterable[float]] = ..., anchor_scale: _Optional[float] = ..., union: _Optional[_Union[Union, str]] = ..., tau: _Optional[float] = ..., seed: _Optional[int] = ...) -> None: ...

class CreateLandscapeRequest(_message.Message):
    __slots__ = ("spec", "random")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    RANDOM_FIELD_NUMBER: _ClassVar[int]
    spec: LandscapeSpec
    random: RandomLandscapeParams
    def __init__(self, spec: _Optional[_Union[LandscapeSpec, _Mapping]] = ..., random: _Optional[_Union[RandomLandscapeParams, _Mapping]] = ...) -> None: ...

class Landscape(_message.Message):
    __slots__ = ("id", "created", "dim", "n_wedges", "kind", "union", "tau", "n_short", "random", "spec")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    N_WEDGES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNION_FIELD_NUMBER: _ClassVar[int]
    TAU_FIELD_NUMBER: _ClassVar[int]
    N_SHORT_FIELD_NUMBER: _ClassVar[int]
    RANDOM_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    id: str
    created: _timestamp_pb2.Timestamp
    dim: int
    n_wedges: int
    kind: FrameKind
    union: Union
    tau: float
    n_short: _containers.RepeatedScalarFieldContainer[int]
    random: RandomLandscapeParams
    spec: LandscapeSpec
    def __init__(self, id: _Optional[str] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., dim: _Optional[int] = ..., n_wedges: _Optional[int] = ..., kind: _Optional[_Union[FrameKind, str]] = ..., union: _Optional[_Union[Union, str]] = ..., tau: _Optional[float] = ..., n_short: _Optional[_Iterable[int]] = ..., random: _Optional[_Union[RandomLandscapeParams, _Mapping]] = ..., spec: _Optional[_Union[LandscapeSpec, _Mapping]] = ...) -> None: ...

class GetLandscapeRequest(_message.Message):
    __slots__ = ("id", "include_spec")
    ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SPEC_FIELD_NUMBER: _ClassVar[int]
    id: str
    include_spec: bool
    def __init__(self, id: _Optional[str] = ..., include_spec: _Optional[bool] = ...) -> None: ...

class ListLandscapesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLandscapesResponse(_message.Message):
    __slots__ = ("landscapes", "next_page_token")
    LANDSCAPES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    landscapes: _containers.RepeatedCompositeFieldContainer[Landscape]
    next_page_token: str
    def __init__(self, landscapes: _Optional[_Iterable[_Union[Landscape, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteLandscapeRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteLandscapeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("landscape_id", "points", "want_gradient", "want_wedge_losses")
    LANDSCAPE_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    WANT_GRADIENT_FIELD_NUMBER: _ClassVar[int]
    WANT_WEDGE_LOSSES_FIELD_NUMBER: _ClassVar[int]
    landscape_id: str
    points: _ndarray_pb2.NdArray
    want_gradient: bool
    want_wedge_losses: bool
    def __init__(self, landscape_id: _Optional[str] = ..., points: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., want_gradient: _Optional[bool] = ..., want_wedge_losses: _Optional[bool] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("losses", "argmin", "gradients", "wedge_losses")
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    ARGMIN_FIELD_NUMBER: _ClassVar[int]
    GRADIENTS_FIELD_NUMBER: _ClassVar[int]
    WEDGE_LOSSES_FIELD_NUMBER: _ClassVar[int]
    losses: _ndarray_pb2.NdArray
    argmin: _ndarray_pb2.NdArray
    gradients: _ndarray_pb2.NdArray
    wedge_losses: _ndarray_pb2.NdArray
    def __init__(self, losses: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., argmin: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., gradients: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., wedge_losses: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ...) -> None: ...

class StreamEvaluateHeader(_message.Message):
    __slots__ = ("landscape_id", "want_gradient", "want_wedge_losses")
    LANDSCAPE_ID_FIELD_NUMBER: _ClassVar[int]
    WANT_GRADIENT_FIELD_NUMBER: _ClassVar[int]
    WANT_WEDGE_LOSSES_FIELD_NUMBER: _ClassVar[int]
    landscape_id: str
    want_gradient: bool
    want_wedge_losses: bool
    def __init__(self, landscape_id: _Optional[str] = ..., want_gradient: _Optional[bool] = ..., want_wedge_losses: _Optional[bool] = ...) -> None: ...

class StreamEvaluateRequest(_message.Message):
    __slots__ = ("header", "points")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    header: StreamEvaluateHeader
    points: _ndarray_pb2.NdArrayChunk
    def __init__(self, header: _Optional[_Union[StreamEvaluateHeader, _Mapping]] = ..., points: _Optional[_Union[_ndarray_pb2.NdArrayChunk, _Mapping]] = ...) -> None: ...

class StreamEvaluateResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: _ndarray_pb2.NdArrayChunk
    def __init__(self, chunk: _Optional[_Union[_ndarray_pb2.NdArrayChunk, _Mapping]] = ...) -> None: ...

class WedgeSet(_message.Message):
    __slots__ = ("wedges",)
    WEDGES_FIELD_NUMBER: _ClassVar[int]
    wedges: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, wedges: _Optional[_Iterable[int]] = ...) -> None: ...

class ProjectRequest(_message.Message):
    __slots__ = ("landscape_id", "points", "wedge", "intersection")
    LANDSCAPE_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    WEDGE_FIELD_NUMBER: _ClassVar[int]
    INTERSECTION_FIELD_NUMBER: _ClassVar[int]
    landscape_id: str
    points: _ndarray_pb2.NdArray
    wedge: int
    intersection: WedgeSet
    def __init__(self, landscape_id: _Optional[str] = ..., points: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., wedge: _Optional[int] = ..., intersection: _Optional[_Union[WedgeSet, _Mapping]] = ...) -> None: ...

class ProjectResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _ndarray_pb2.NdArray
    def __init__(self, points: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ...) -> None: ...

class IntersectRequest(_message.Message):
    __slots__ = ("landscape_id", "wedges", "radius", "seed")
    LANDSCAPE_ID_FIELD_NUMBER: _ClassVar[int]
    WEDGES_FIELD_NUMBER: _ClassVar[int]
    RADIUS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    landscape_id: str
    wedges: _containers.RepeatedScalarFieldContainer[int]
    radius: float
    seed: int
    def __init__(self, landscape_id: _Optional[str] = ..., wedges: _Optional[_Iterable[int]] = ..., radius: _Optional[float] = ..., seed: _Optional[int] = ...) -> None: ...

class IntersectResponse(_message.Message):
    __slots__ = ("short_count", "long_dim", "expected_short_count", "point", "short_axes")
    SHORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    LONG_DIM_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    SHORT_AXES_FIELD_NUMBER: _ClassVar[int]
    short_count: int
    long_dim: int
    expected_short_count: float
    point: _ndarray_pb2.NdArray
    short_axes: _ndarray_pb2.NdArray
    def __init__(self, short_count: _Optional[int] = ..., long_dim: _Optional[int] = ..., expected_short_count: _Optional[float] = ..., point: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., short_axes: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ...) -> None: ...

class PathSampling(_message.Message):
    __slots__ = ("t", "num_t")
    T_FIELD_NUMBER: _ClassVar[int]
    NUM_T_FIELD_NUMBER: _ClassVar[int]
    t: _ndarray_pb2.NdArray
    num_t: int
    def __init__(self, t: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., num_t: _Optional[int] = ...) -> None: ...

class LinePath(_message.Message):
    __slots__ = ("a", "b", "sampling")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    a: _ndarray_pb2.NdArray
    b: _ndarray_pb2.NdArray
    sampling: PathSampling
    def __init__(self, a: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., b: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., sampling: _Optional[_Union[PathSampling, _Mapping]] = ...) -> None: ...

class ChainPath(_message.Message):
    __slots__ = ("points", "sampling")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    points: _ndarray_pb2.NdArray
    sampling: PathSampling
    def __init__(self, points: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., sampling: _Optional[_Union[PathSampling, _Mapping]] = ...) -> None: ...

class BezierPath(_message.Message):
    __slots__ = ("a", "control", "b", "sampling")
    A_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    a: _ndarray_pb2.NdArray
    control: _ndarray_pb2.NdArray
    b: _ndarray_pb2.NdArray
    sampling: PathSampling
    def __init__(self, a: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., control: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., b: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., sampling: _Optional[_Union[PathSampling, _Mapping]] = ...) -> None: ...

class SimplexGrid(_message.Message):
    __slots__ = ("vertices", "resolution")
    VERTICES_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    vertices: _ndarray_pb2.NdArray
    resolution: int
    def __init__(self, vertices: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., resolution: _Optional[int] = ...) -> None: ...

class PlaneGrid(_message.Message):
    __slots__ = ("origin", "d1", "d2", "extent", "resolution", "alpha", "beta", "raw_directions")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    D1_FIELD_NUMBER: _ClassVar[int]
    D2_FIELD_NUMBER: _ClassVar[int]
    EXTENT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    RAW_DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    origin: _ndarray_pb2.NdArray
    d1: _ndarray_pb2.NdArray
    d2: _ndarray_pb2.NdArray
    extent: float
    resolution: int
    alpha: _ndarray_pb2.NdArray
    beta: _ndarray_pb2.NdArray
    raw_directions: bool
    def __init__(self, origin: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., d1: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., d2: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., extent: _Optional[float] = ..., resolution: _Optional[int] = ..., alpha: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., beta: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., raw_directions: _Optional[bool] = ...) -> None: ...

class RadialGrid(_message.Message):
    __slots__ = ("origin", "d1", "d2", "radii", "angles")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    D1_FIELD_NUMBER: _ClassVar[int]
    D2_FIELD_NUMBER: _ClassVar[int]
    RADII_FIELD_NUMBER: _ClassVar[int]
    ANGLES_FIELD_NUMBER: _ClassVar[int]
    origin: _ndarray_pb2.NdArray
    d1: _ndarray_pb2.NdArray
    d2: _ndarray_pb2.NdArray
    radii: _ndarray_pb2.NdArray
    angles: _ndarray_pb2.NdArray
    def __init__(self, origin: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., d1: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., d2: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., radii: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., angles: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ...) -> None: ...

class SectionRequest(_message.Message):
    __slots__ = ("landscape_id", "line", "chain", "bezier", "simplex", "plane", "radial")
    LANDSCAPE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    BEZIER_FIELD_NUMBER: _ClassVar[int]
    SIMPLEX_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    RADIAL_FIELD_NUMBER: _ClassVar[int]
    landscape_id: str
    line: LinePath
    chain: ChainPath
    bezier: BezierPath
    simplex: SimplexGrid
    plane: PlaneGrid
    radial: RadialGrid
    def __init__(self, landscape_id: _Optional[str] = ..., line: _Optional[_Union[LinePath, _Mapping]] = ..., chain: _Optional[_Union[ChainPath, _Mapping]] = ..., bezier: _Optional[_Union[BezierPath, _Mapping]] = ..., simplex: _Optional[_Union[SimplexGrid, _Mapping]] = ..., plane: _Optional[_Union[PlaneGrid, _Mapping]] = ..., radial: _Optional[_Union[RadialGrid, _Mapping]] = ...) -> None: ...

class SectionResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: _ndarray_pb2.NdArrayChunk
    def __init__(self, chunk: _Optional[_Union[_ndarray_pb2.NdArrayChunk, _Mapping]] = ...) -> None: ...

class DescentOptions(_message.Message):
    __slots__ = ("optimizer", "lr", "steps", "noise_std", "momentum", "beta1", "beta2", "eps", "l2", "target_loss", "record_every")
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    NOISE_STD_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    TARGET_LOSS_FIELD_NUMBER: _ClassVar[int]
    RECORD_EVERY_FIELD_NUMBER: _ClassVar[int]
    optimizer: Optimizer
    lr: float
    steps: int
    noise_std: float
    momentum: float
    beta1: float
    beta2: float
    eps: float
    l2: float
    target_loss: float
    record_every: int
    def __init__(self, optimizer: _Optional[_Union[Optimizer, str]] = ..., lr: _Optional[float] = ..., steps: _Optional[int] = ..., noise_std: _Optional[float] = ..., momentum: _Optional[float] = ..., beta1: _Optional[float] = ..., beta2: _Optional[float] = ..., eps: _Optional[float] = ..., l2: _Optional[float] = ..., target_loss: _Optional[float] = ..., record_every: _Optional[int] = ...) -> None: ...

class InitAtRadius(_message.Message):
    __slots__ = ("radius", "n", "seed")
    RADIUS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    radius: float
    n: int
    seed: int
    def __init__(self, radius: _Optional[float] = ..., n: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class DescendRequest(_message.Message):
    __slots__ = ("landscape_id", "x0", "init", "options", "seed")
    LANDSCAPE_ID_FIELD_NUMBER: _ClassVar[int]
    X0_FIELD_NUMBER: _ClassVar[int]
    INIT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    landscape_id: str
    x0: _ndarray_pb2.NdArray
    init: InitAtRadius
    options: DescentOptions
    seed: int
    def __init__(self, landscape_id: _Optional[str] = ..., x0: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., init: _Optional[_Union[InitAtRadius, _Mapping]] = ..., options: _Optional[_Union[DescentOptions, _Mapping]] = ..., seed: _Optional[int] = ...) -> None: ...

class DescentRecord(_message.Message):
    __slots__ = ("step", "loss", "radius", "distance", "argmin")
    STEP_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    RADIUS_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    ARGMIN_FIELD_NUMBER: _ClassVar[int]
    step: int
    loss: _ndarray_pb2.NdArray
    radius: _ndarray_pb2.NdArray
    distance: _ndarray_pb2.NdArray
    argmin: _ndarray_pb2.NdArray
    def __init__(self, step: _Optional[int] = ..., loss: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., radius: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., distance: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ..., argmin: _Optional[_Union[_ndarray_pb2.NdArray, _Mapping]] = ...) -> None: ...

class DescendResponse(_message.Message):
    __slots__ = ("record", "final")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    record: DescentRecord
    final: _ndarray_pb2.NdArrayChunk
    def __init__(self, record: _Optional[_Union[DescentRecord, _Mapping]] = ..., final: _Optional[_Union[_ndarray_pb2.NdArrayChunk, _Mapping]] = ...) -> None: ...
