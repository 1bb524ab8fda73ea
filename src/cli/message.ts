// How the command-line scripts print a message: control characters (NUL, ESC, BEL...) that came
// from a file or an argument are escaped as \u00XX, so an `error:` line can neither hide text
// nor drive the terminal. Line breaks and tabs stay.

/** `msg` with every control character other than newline and tab escaped. */
export function printable(msg: string): string {
  return msg.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
