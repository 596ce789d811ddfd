import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from landsim_wire.v1 import ndarray_pb2 as _ndarray_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_KIND_UNSPECIFIED: _ClassVar[JobKind]
    JOB_KIND_TOY: _ClassVar[JobKind]
    JOB_KIND_REAL: _ClassVar[JobKind]

class JobArm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_ARM_UNSPECIFIED: _ClassVar[JobArm]
    JOB_ARM_CLAIM: _ClassVar[JobArm]
    JOB_ARM_CONTROL: _ClassVar[JobArm]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
JOB_KIND_UNSPECIFIED: JobKind
JOB_KIND_TOY: JobKind
JOB_KIND_REAL: JobKind
JOB_ARM_UNSPECIFIED: JobArm
JOB_ARM_CLAIM: JobArm
JOB_ARM_CONTROL: JobArm
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class CreateJobRequest(_message.Message):
    __slots__ = ("experiment_id", "kind", "config_json", "config_struct", "quick", "seed", "request_id", "max_attempts", "replicate", "arm", "sweep")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    CONFIG_STRUCT_FIELD_NUMBER: _ClassVar[int]
    QUICK_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    REPLICATE_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    kind: JobKind
    config_json: str
    config_struct: _struct_pb2.Struct
    quick: bool
    seed: int
    request_id: str
    max_attempts: int
    replicate: int
    arm: JobArm
    sweep: SweepGrid
    def __init__(self, experiment_id: _Optional[str] = ..., kind: _Optional[_Union[JobKind, str]] = ..., config_json: _Optional[str] = ..., config_struct: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., quick: _Optional[bool] = ..., seed: _Optional[int] = ..., request_id: _Optional[str] = ..., max_attempts: _Optional[int] = ..., replicate: _Optional[int] = ..., arm: _Optional[_Union[JobArm, str]] = ..., sweep: _Optional[_Union[SweepGrid, _Mapping]] = ...) -> None: ...

class GridAxis(_message.Message):
    __slots__ = ("field", "values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class SweepGrid(_message.Message):
    __slots__ = ("axes", "seeds", "controls")
    AXES_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    axes: _containers.RepeatedCompositeFieldContainer[GridAxis]
    seeds: int
    controls: bool
    def __init__(self, axes: _Optional[_Iterable[_Union[GridAxis, _Mapping]]] = ..., seeds: _Optional[int] = ..., controls: _Optional[bool] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "request_id", "experiment_id", "kind", "config_json", "quick", "seed", "state", "progress", "message", "attempts", "max_attempts", "error", "cancel_requested", "create_time", "start_time", "finish_time", "lease_expire_time", "replicate", "arm", "sweep")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    QUICK_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REPLICATE_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    experiment_id: str
    kind: JobKind
    config_json: str
    quick: bool
    seed: int
    state: JobState
    progress: float
    message: str
    attempts: int
    max_attempts: int
    error: str
    cancel_requested: bool
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    lease_expire_time: _timestamp_pb2.Timestamp
    replicate: int
    arm: JobArm
    sweep: SweepGrid
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., experiment_id: _Optional[str] = ..., kind: _Optional[_Union[JobKind, str]] = ..., config_json: _Optional[str] = ..., quick: _Optional[bool] = ..., seed: _Optional[int] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., attempts: _Optional[int] = ..., max_attempts: _Optional[int] = ..., error: _Optional[str] = ..., cancel_requested: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replicate: _Optional[int] = ..., arm: _Optional[_Union[JobArm, str]] = ..., sweep: _Optional[_Union[SweepGrid, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("states", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[JobState]
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[JobState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "heartbeat_s")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_S_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    heartbeat_s: float
    def __init__(self, job_id: _Optional[str] = ..., heartbeat_s: _Optional[float] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job", "heartbeat")
    JOB_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    job: Job
    heartbeat: bool
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., heartbeat: _Optional[bool] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResultRequest(_message.Message):
    __slots__ = ("job_id", "chunk_bytes")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chunk_bytes: int
    def __init__(self, job_id: _Optional[str] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("holds", "rule", "evidence")
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    holds: bool
    rule: str
    evidence: str
    def __init__(self, holds: _Optional[bool] = ..., rule: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...

class ArrayInfo(_message.Message):
    __slots__ = ("name", "dtype", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class JobResultSummary(_message.Message):
    __slots__ = ("experiment_id", "kind", "config_json", "seed", "version", "machine", "timings", "metrics", "verdict", "arrays", "replicate", "arm")
    class TimingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ARRAYS_FIELD_NUMBER: _ClassVar[int]
    REPLICATE_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    kind: JobKind
    config_json: str
    seed: int
    version: str
    machine: str
    timings: _containers.ScalarMap[str, float]
    metrics: _containers.ScalarMap[str, float]
    verdict: Verdict
    arrays: _containers.RepeatedCompositeFieldContainer[ArrayInfo]
    replicate: int
    arm: JobArm
    def __init__(self, experiment_id: _Optional[str] = ..., kind: _Optional[_Union[JobKind, str]] = ..., config_json: _Optional[str] = ..., seed: _Optional[int] = ..., version: _Optional[str] = ..., machine: _Optional[str] = ..., timings: _Optional[_Mapping[str, float]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., verdict: _Optional[_Union[Verdict, _Mapping]] = ..., arrays: _Optional[_Iterable[_Union[ArrayInfo, _Mapping]]] = ..., replicate: _Optional[int] = ..., arm: _Optional[_Union[JobArm, str]] = ...) -> None: ...

class JobResultPart(_message.Message):
    __slots__ = ("summary", "chunk")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    summary: JobResultSummary
    chunk: _ndarray_pb2.NdArrayChunk
    def __init__(self, summary: _Optional[_Union[JobResultSummary, _Mapping]] = ..., chunk: _Optional[_Union[_ndarray_pb2.NdArrayChunk, _Mapping]] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPluginsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PluginField(_message.Message):
    __slots__ = ("field", "type", "default_json", "doc", "path")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_JSON_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    field: str
    type: str
    default_json: str
    doc: str
    path: bool
    def __init__(self, field: _Optional[str] = ..., type: _Optional[str] = ..., default_json: _Optional[str] = ..., doc: _Optional[str] = ..., path: _Optional[bool] = ...) -> None: ...

class PluginInfo(_message.Message):
    __slots__ = ("group", "name", "summary", "fields")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    group: str
    name: str
    summary: str
    fields: _containers.RepeatedCompositeFieldContainer[PluginField]
    def __init__(self, group: _Optional[str] = ..., name: _Optional[str] = ..., summary: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[PluginField, _Mapping]]] = ...) -> None: ...

class ListPluginsResponse(_message.Message):
    __slots__ = ("plugins", "unavailable")
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[PluginInfo]
    unavailable: str
    def __init__(self, plugins: _Optional[_Iterable[_Union[PluginInfo, _Mapping]]] = ..., unavailable: _Optional[str] = ...) -> None: ...
