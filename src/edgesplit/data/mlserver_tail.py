"""An exported tail served by MLServer (a server edgesplit did not write) with ONNX Runtime.

``edgesplit export MODEL --cut N --out DIR --repository mlserver`` copies this file beside each
tail's ``model.onnx`` and names it in the tail's ``model-settings.json``; MLServer imports it
from the model's folder (``mlserver start DIR``). It runs in MLServer's environment, so it
imports nothing from edgesplit: only MLServer, NumPy and ONNX Runtime. The inputs are fed by
name (the tail's input names, which ``edgesplit device --server oip://...`` sends), the outputs
answered in the ONNX model's order under its output names.
"""

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxTail(MLModel):
    """One tail: an ONNX Runtime session (CPU, or CUDA when the wheel and machine have it)."""

    async def load(self) -> bool:
        path = await get_model_uri(self._settings, wellknown_filenames=["model.onnx"])
        providers = [p for p in ort.get_available_providers() if p in ("CUDAExecutionProvider",)]
        self._session = ort.InferenceSession(path, providers=[*providers, "CPUExecutionProvider"])
        self._inputs = {i.name: i for i in self._session.get_inputs()}
        self._outputs = [o.name for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        given = {tensor.name: tensor for tensor in payload.inputs}
        if set(given) != set(self._inputs):
            raise MLServerError(
                f"inputs {sorted(given)}: {self.name} takes {sorted(self._inputs)}", 400
            )
        feeds = {n: np.ascontiguousarray(NumpyCodec.decode_input(t)) for n, t in given.items()}
        outputs = self._session.run(self._outputs, feeds)
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[
                NumpyCodec.encode_output(name, value)
                for name, value in zip(self._outputs, outputs, strict=True)
            ],
        )
