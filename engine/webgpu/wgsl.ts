// WGSL sources as the WebGPU backend compiles them. WGSL has no imports, so two directives are
// expanded here:
//   // #include lib/NAME.wgsl        the text of engine/wgsl/lib/NAME.wgsl (shared helpers);
//   // #half-input NAME BINDING FN [bits]
//                                    a read-only storage binding that holds f32 values, or f16
//                                    values in the kernel's _f16 variant, read through FN(i): the
//                                    element as f32, or with `bits` its f32 bits as u32.
// A half input is packed (any adapter): raw u32 words, f32 values or, with the override constant
// <NAME>_HALF set, f16 pairs (element i in the low half of word i / 2 when i is even) read with
// unpack2x16float. With native halves (the _f16 variant on a device with shader-f16) it is an
// array<f16> read with f32(), and the module starts with `enable f16;`. Either way the kernels do
// their arithmetic in f32.

import { engineHost } from "../host.ts";

const HALF_INPUT = /^\/\/ #half-input (\w+) (\d+) (\w+)( bits)?$/gm;

/** Whether the WGSL of `file` declares a half input (its _f16 variant can read native halves). */
export function hasHalfInput(file: string): boolean {
  return new RegExp(HALF_INPUT.source, "m").test(read(file));
}

/**
 * The WGSL of `file` (relative to engine/wgsl/) with its directives expanded; `nativeHalf`
 * declares its half inputs as array<f16> (the caller checked the device has shader-f16).
 */
export function wgslSource(file: string, nativeHalf = false): string {
  const body = expandIncludes(read(file)).replace(
    HALF_INPUT,
    (_, name: string, binding: string, fn: string, bits?: string) =>
      nativeHalf
        ? nativeInput(name, binding, fn, bits !== undefined)
        : packedInput(name, binding, fn, bits !== undefined),
  );
  return nativeHalf ? `enable f16;\n${body}` : body;
}

function read(file: string): string {
  return engineHost().wgsl(file);
}

function expandIncludes(text: string): string {
  return text.replace(
    /^\/\/ #include (lib\/[\w.]+\.wgsl)$/gm,
    (_, lib: string) => expandIncludes(read(lib)),
  );
}

function packedInput(name: string, binding: string, fn: string, bits: boolean): string {
  const flag = `${name.toUpperCase()}_HALF`;
  const half = `unpack2x16float(${name}[i >> 1u])[i & 1u]`;
  return [
    `override ${flag}: bool = false;`,
    `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;`,
    bits
      ? `fn ${fn}(i: u32) -> u32 { if (${flag}) { return bitcast<u32>(${half}); } return ${name}[i]; }`
      : `fn ${fn}(i: u32) -> f32 { if (${flag}) { return ${half}; } return bitcast<f32>(${name}[i]); }`,
  ].join("\n");
}

function nativeInput(name: string, binding: string, fn: string, bits: boolean): string {
  return [
    `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f16>;`,
    bits
      ? `fn ${fn}(i: u32) -> u32 { return bitcast<u32>(f32(${name}[i])); }`
      : `fn ${fn}(i: u32) -> f32 { return f32(${name}[i]); }`,
  ].join("\n");
}
