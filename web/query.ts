// The page's query (?backend=wasm|webgpu|auto, ?model=NAME: links and tests preselect with them),
// read without the DOM so that it is tested on its own (tests/web/query_test.ts): a value that
// names no option falls back to the page's default, and a note says so, naming the options.

/** What a query key selects: its value, and a note when the query named no such option. */
export interface QueryChoice {
  value: string;
  note: string | null;
}

/**
 * The option `query` selects for `key` among `options`: the one it names, else `fallback` (an
 * absent or empty value silently; an unknown one with a note naming it, the options and the
 * fallback). `what` names an option in the note ("shipped model").
 */
export function queryChoice(
  query: URLSearchParams,
  key: string,
  options: readonly string[],
  fallback: string,
  what: string,
): QueryChoice {
  const value = query.get(key);
  if (!value) return { value: fallback, note: null };
  if (options.includes(value)) return { value, note: null };
  return {
    value: fallback,
    note: `?${key}=${value} names no ${what}; the ${what}s are ${options.join(", ")}: ` +
      `${fallback} is used instead`,
  };
}
