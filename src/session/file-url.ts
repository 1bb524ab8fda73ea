// A folder path (relative to the working directory, or absolute) as a file: URL, so that a
// folder on disk loads through the same fetch path as a served one (Deno fetches file: URLs).

export function toFileUrl(dir: string): URL {
  const abs = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return new URL(`file://${abs.split("/").map(encodeURIComponent).join("/")}/`);
}
