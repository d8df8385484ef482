from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeviceHello(_message.Message):
    __slots__ = ("protocol", "name", "model", "granularity", "input_size", "cut_count", "hardware", "process_id", "steps_done", "place")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    INPUT_SIZE_FIELD_NUMBER: _ClassVar[int]
    CUT_COUNT_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_DONE_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    name: str
    model: str
    granularity: str
    input_size: int
    cut_count: int
    hardware: str
    process_id: int
    steps_done: int
    place: int
    def __init__(self, protocol: _Optional[int] = ..., name: _Optional[str] = ..., model: _Optional[str] = ..., granularity: _Optional[str] = ..., input_size: _Optional[int] = ..., cut_count: _Optional[int] = ..., hardware: _Optional[str] = ..., process_id: _Optional[int] = ..., steps_done: _Optional[int] = ..., place: _Optional[int] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("protocol", "index", "run_id", "lease_s", "slot_s", "servers", "request_s", "transport_s_per_bit")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_S_FIELD_NUMBER: _ClassVar[int]
    SLOT_S_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_S_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_S_PER_BIT_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    index: int
    run_id: str
    lease_s: float
    slot_s: float
    servers: _containers.RepeatedScalarFieldContainer[str]
    request_s: float
    transport_s_per_bit: float
    def __init__(self, protocol: _Optional[int] = ..., index: _Optional[int] = ..., run_id: _Optional[str] = ..., lease_s: _Optional[float] = ..., slot_s: _Optional[float] = ..., servers: _Optional[_Iterable[str]] = ..., request_s: _Optional[float] = ..., transport_s_per_bit: _Optional[float] = ...) -> None: ...

class Subscribe(_message.Message):
    __slots__ = ("protocol", "index", "run_id")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    index: int
    run_id: str
    def __init__(self, protocol: _Optional[int] = ..., index: _Optional[int] = ..., run_id: _Optional[str] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("cut", "codec", "threads", "server", "power_w", "radio_rate_bps", "exit", "exit_threshold")
    CUT_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    RADIO_RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    EXIT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    cut: int
    codec: str
    threads: int
    server: str
    power_w: float
    radio_rate_bps: float
    exit: str
    exit_threshold: float
    def __init__(self, cut: _Optional[int] = ..., codec: _Optional[str] = ..., threads: _Optional[int] = ..., server: _Optional[str] = ..., power_w: _Optional[float] = ..., radio_rate_bps: _Optional[float] = ..., exit: _Optional[str] = ..., exit_threshold: _Optional[float] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("protocol", "step", "start_s", "spacing_s", "slot_s", "tasks", "stop", "why")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    SPACING_S_FIELD_NUMBER: _ClassVar[int]
    SLOT_S_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    step: int
    start_s: float
    spacing_s: float
    slot_s: float
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    stop: bool
    why: str
    def __init__(self, protocol: _Optional[int] = ..., step: _Optional[int] = ..., start_s: _Optional[float] = ..., spacing_s: _Optional[float] = ..., slot_s: _Optional[float] = ..., tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., stop: _Optional[bool] = ..., why: _Optional[str] = ...) -> None: ...

class TaskRecord(_message.Message):
    __slots__ = ("step", "k", "cut", "server", "codec", "fallback", "head_s", "codec_s", "transfer_s", "queue_s", "tail_s", "wait_s", "sent_bytes", "threads", "decided_by", "note", "exited", "exit_s")
    STEP_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    CUT_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    HEAD_S_FIELD_NUMBER: _ClassVar[int]
    CODEC_S_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_S_FIELD_NUMBER: _ClassVar[int]
    QUEUE_S_FIELD_NUMBER: _ClassVar[int]
    TAIL_S_FIELD_NUMBER: _ClassVar[int]
    WAIT_S_FIELD_NUMBER: _ClassVar[int]
    SENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    EXIT_S_FIELD_NUMBER: _ClassVar[int]
    step: int
    k: int
    cut: int
    server: str
    codec: str
    fallback: str
    head_s: float
    codec_s: float
    transfer_s: float
    queue_s: float
    tail_s: float
    wait_s: float
    sent_bytes: int
    threads: int
    decided_by: str
    note: str
    exited: int
    exit_s: float
    def __init__(self, step: _Optional[int] = ..., k: _Optional[int] = ..., cut: _Optional[int] = ..., server: _Optional[str] = ..., codec: _Optional[str] = ..., fallback: _Optional[str] = ..., head_s: _Optional[float] = ..., codec_s: _Optional[float] = ..., transfer_s: _Optional[float] = ..., queue_s: _Optional[float] = ..., tail_s: _Optional[float] = ..., wait_s: _Optional[float] = ..., sent_bytes: _Optional[int] = ..., threads: _Optional[int] = ..., decided_by: _Optional[str] = ..., note: _Optional[str] = ..., exited: _Optional[int] = ..., exit_s: _Optional[float] = ...) -> None: ...

class ClockSample(_message.Message):
    __slots__ = ("sent_s", "received_s", "replied_s", "returned_s")
    SENT_S_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_S_FIELD_NUMBER: _ClassVar[int]
    REPLIED_S_FIELD_NUMBER: _ClassVar[int]
    RETURNED_S_FIELD_NUMBER: _ClassVar[int]
    sent_s: float
    received_s: float
    replied_s: float
    returned_s: float
    def __init__(self, sent_s: _Optional[float] = ..., received_s: _Optional[float] = ..., replied_s: _Optional[float] = ..., returned_s: _Optional[float] = ...) -> None: ...

class StepReport(_message.Message):
    __slots__ = ("protocol", "index", "run_id", "step", "tasks", "uplink_bps", "clock", "done", "steps_done")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    UPLINK_BPS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    STEPS_DONE_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    index: int
    run_id: str
    step: int
    tasks: _containers.RepeatedCompositeFieldContainer[TaskRecord]
    uplink_bps: float
    clock: _containers.RepeatedCompositeFieldContainer[ClockSample]
    done: bool
    steps_done: int
    def __init__(self, protocol: _Optional[int] = ..., index: _Optional[int] = ..., run_id: _Optional[str] = ..., step: _Optional[int] = ..., tasks: _Optional[_Iterable[_Union[TaskRecord, _Mapping]]] = ..., uplink_bps: _Optional[float] = ..., clock: _Optional[_Iterable[_Union[ClockSample, _Mapping]]] = ..., done: _Optional[bool] = ..., steps_done: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("protocol", "known")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    known: bool
    def __init__(self, protocol: _Optional[int] = ..., known: _Optional[bool] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("protocol", "sent_s")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SENT_S_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    sent_s: float
    def __init__(self, protocol: _Optional[int] = ..., sent_s: _Optional[float] = ...) -> None: ...

class SyncReply(_message.Message):
    __slots__ = ("protocol", "sent_s", "received_s", "replied_s")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SENT_S_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_S_FIELD_NUMBER: _ClassVar[int]
    REPLIED_S_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    sent_s: float
    received_s: float
    replied_s: float
    def __init__(self, protocol: _Optional[int] = ..., sent_s: _Optional[float] = ..., received_s: _Optional[float] = ..., replied_s: _Optional[float] = ...) -> None: ...

class ServerHello(_message.Message):
    __slots__ = ("protocol", "address", "port", "models", "cores", "lanes")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    CORES_FIELD_NUMBER: _ClassVar[int]
    LANES_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    address: str
    port: int
    models: _containers.RepeatedScalarFieldContainer[str]
    cores: int
    lanes: int
    def __init__(self, protocol: _Optional[int] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ..., cores: _Optional[int] = ..., lanes: _Optional[int] = ...) -> None: ...

class ServerLoad(_message.Message):
    __slots__ = ("protocol", "index", "run_id", "serving", "threads_in_use", "waiting", "mean_tail_s")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    THREADS_IN_USE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    MEAN_TAIL_S_FIELD_NUMBER: _ClassVar[int]
    protocol: int
    index: int
    run_id: str
    serving: bool
    threads_in_use: int
    waiting: int
    mean_tail_s: float
    def __init__(self, protocol: _Optional[int] = ..., index: _Optional[int] = ..., run_id: _Optional[str] = ..., serving: _Optional[bool] = ..., threads_in_use: _Optional[int] = ..., waiting: _Optional[int] = ..., mean_tail_s: _Optional[float] = ...) -> None: ...
