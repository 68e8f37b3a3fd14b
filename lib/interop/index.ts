// Interop: safetensors files, PyTorch / Hugging Face / Keras / TF.js weights, TF.js tensors.
export {
  loadSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
  MAX_HEADER_BYTES,
} from './safetensors';
export type {
  LoadSafetensorsOptions,
  SafetensorsContents,
  SafetensorsDtype,
  SafetensorsEntry,
  SafetensorsHeader,
  SaveableTensor,
  SaveSafetensorsOptions,
} from './safetensors';
export {
  bfloat16BitsToNumber,
  bfloat16ToFloat32,
  float16BitsToNumber,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  numberToFloat16Bits,
} from './float16';
export type { TensorSource } from './common';
export {
  fromPyTorch,
  toPyTorch,
  fromTorchAttnMask,
  fromTorchKeyPaddingMask,
  fromTorchMasks,
} from './pytorch';
export type {
  FromPyTorchOptions,
  KeyPaddingOptions,
  ToPyTorchOptions,
  TorchAttnMaskOptions,
  TorchKeyPaddingMaskOptions,
  TorchMask,
  TorchMasksOptions,
} from './pytorch';
export { fromHuggingFace, toHuggingFace, HF_LINEAR_NAMES } from './huggingface';
export type { FromHuggingFaceOptions, HuggingFaceStyle, ToHuggingFaceOptions } from './huggingface';
export { fromKeras, fromKerasAttentionMask, toKeras, findKerasPrefixes } from './keras';
export type { FromKerasOptions, ToKerasOptions } from './keras';
export { fromTfjs, loadKerasFromTfjs, loadTfjsWeights, saveTfjsWeights, toTfjsArgs } from './tfjs';
export type {
  FromTfjsOptions,
  LoadTfjsWeightsOptions,
  SavedTfjsWeights,
  SaveTfjsWeightsOptions,
  TfjsTensorLike,
  TfjsWeightSpec,
  TfjsWeightsGroup,
} from './tfjs';
