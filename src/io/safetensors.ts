// Safetensors files (https://github.com/huggingface/safetensors), read and written: the format's
// vocabulary (safetensors/format.ts), validated reading (read.ts), atomic writing (write.ts) and
// bit-exact half-precision conversions (half.ts). Callers import from here.

export { SafetensorsError } from "./errors.ts";
export {
  type Dtype,
  DTYPE_BYTES,
  FLOAT_DTYPES,
  type FloatDtype,
  MAX_HEADER_BYTES,
  type SafetensorsFile,
  type SingleSafetensorsFile,
  type TensorInfo,
  type WriteDtype,
} from "./safetensors/format.ts";
export {
  exactWriteDtype,
  f16BitsToF32Bits,
  f32ToBf16Bits,
  f32ToF16Bits,
} from "./safetensors/half.ts";
export { openSafetensors, safetensorsFromBytes } from "./safetensors/read.ts";

export { encodeSafetensors, type TensorToWrite, writeSafetensors } from "./safetensors/write.ts";
