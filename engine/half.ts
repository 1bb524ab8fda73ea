// Host-side f16 conversions for the backends' upload and read of f16 buffers, on the platform's
// Float16Array (IEEE binary16, round to nearest, ties to even, like the f32_to_f16 kernels).

/** f16 bit patterns of `values`, each rounded to the nearest f16 (ties to even). */
export function toHalfBits(values: Float32Array): Uint16Array {
  return new Uint16Array(new Float16Array(values).buffer);
}

/** The f32 values of f16 bit patterns (exact). */
export function fromHalfBits(bits: Uint16Array): Float32Array {
  const aligned = bits.byteOffset % 2 === 0 ? bits : bits.slice();
  return Float32Array.from(new Float16Array(aligned.buffer, aligned.byteOffset, aligned.length));
}
