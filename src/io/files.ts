// File-system helpers for outputs: whether a path exists, and replacing a folder by renames only
// (the old folder is first moved aside as DIR.old, the new one renamed in, then the old one
// removed), so at every instant either the old or the new complete folder exists under a known
// name and nothing is ever half written at DIR.

/** Whether `path` exists (links followed); errors other than NotFound propagate. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Renames the complete folder `from` to `to`, replacing what `to` held. Same filesystem only. */
export async function replaceDir(from: string, to: string): Promise<void> {
  const old = `${to}.old`;
  await Deno.remove(old, { recursive: true }).catch(() => {});
  const had = await exists(to);
  if (had) await Deno.rename(to, old);
  await Deno.rename(from, to);
  if (had) await Deno.remove(old, { recursive: true });
}
