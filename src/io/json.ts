// What a value parsed from JSON is: a JSON object (not null, not an array). Every reader of a
// JSON file the user may have edited (requests, tokenizers, safetensors headers, training
// summaries) checks its objects with this one test.

/** A JSON object (not null, not an array). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
